"""The decode benchmark still runs and its honesty checks still pass (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_decode.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_decode", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_decode"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_decode", None)


class TestBenchDecode:
    def test_small_run_reports_every_decoder(self, bench, tmp_path, capsys):
        """Values and rejects of both decoders agree, and the report names all three rows."""
        assert bench.main(["--records", "3000", "--baseline-records", "500", "--repeat", "1",
                           "--chunk-records", "1000", "--json", "--data-dir", str(tmp_path)]) == 0
        report = json.loads(capsys.readouterr().out)
        assert [r["decoder"] for r in report["results"]] == [
            "mfpipe (framing + DecodePlan.decode)", "per-record Python (tuples)",
            "per-record Python + Arrow batch"]
        assert report["results"][0]["records"] == 3000
        assert report["results"][1]["records"] == 500
        assert report["checked_records"] == 3000
        assert report["checked_rejects"] > 200  # generated corruptions plus the hand-made ones

    def test_baseline_rejects_what_mfpipe_rejects(self, bench):
        """The per-record decoder validates like mfpipe: a bad packed sign nibble is a reject."""
        from mfpipe.layout import load_layout

        record = load_layout(bench.LAYOUT).record()
        decoder = bench.PerRecordDecoder(record)
        balance = record.field("balance")
        rec = bytearray(b"\xF0" * record.size)
        rec[balance.offset:balance.offset + balance.size] = bytes.fromhex("0000000001234C")
        for f in record.fields:
            if f.category.value == "ALPHANUMERIC":
                rec[f.offset:f.offset + f.size] = b"\x40" * f.size
            elif f.usage.value != "DISPLAY" and f.column != "balance":
                rec[f.offset:f.offset + f.size] = b"\x00" * (f.size - 1) + (
                    b"\x0C" if f.usage.value == "COMP_3" else b"\x00")
        values = dict(zip([f.column for f in record.fields], decoder.decode_record(bytes(rec)),
                          strict=True))
        assert str(values["balance"]) == "12.34"
        rec[balance.offset + balance.size - 1] = 0x47  # sign nibble 7
        with pytest.raises(bench.BadField) as bad:
            decoder.decode_record(bytes(rec))
        assert bad.value.reason.name == "PACKED_SIGN"
        assert bad.value.column == "balance"
