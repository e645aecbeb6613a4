"""A realistic 140-column copybook against offsets computed by hand (tests/layout/golden)."""

from __future__ import annotations

import json

import pytest

from mfpipe.layout import load_layout
from tests.support import ROOT

GOLDEN = json.loads((ROOT / "tests/layout/golden/bank_master.json").read_text())


@pytest.fixture(scope="module")
def record():
    return load_layout(ROOT / "schemas/bank_master.cpy").record()


class TestBankMaster:
    def test_record_name_and_size(self, record):
        """The 01 name becomes the table name and the size counts the ODO table at its maximum."""
        assert record.table == GOLDEN["record"]
        assert record.size == GOLDEN["record_size"]

    def test_columns_in_offset_order(self, record):
        """Every loaded column is there, in the golden order, with no FILLER, 66 or 88 entries."""
        assert [f.column for f in record.fields] == [g["column"] for g in GOLDEN["fields"]]
        assert len(record.fields) >= 100

    @pytest.mark.parametrize("golden", GOLDEN["fields"], ids=lambda g: g["column"])
    def test_field_matches_golden(self, record, golden):
        """Offset, size, usage, digits, scale and sign of each field match the hand computation."""
        f = record.field(golden["column"])
        actual = {"offset": f.offset, "size": f.size, "usage": f.usage.value,
                  "digits": f.digits, "scale": f.scale, "signed": f.signed}
        expected = {k: golden[k] for k in actual if golden[k] is not None}
        assert {k: actual[k] for k in expected} == expected

    def test_renames_and_conditions_are_kept(self, record):
        """66-level RENAMES are recorded and 88-level values stay attached to their field."""
        assert record.renames
        assert any(f.conditions for f in record.fields)
