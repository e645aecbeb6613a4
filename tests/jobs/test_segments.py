"""Multi-segment files: one load per segment, each with its own columns into its own tables,
each reconciled on its own; together they account for every record of the file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from mfpipe.codec import DecodeOptions
from mfpipe.codec.encode import encode_column
from mfpipe.layout import load_layout
from tests.jobs.support import main_json
from tests.support import ROOT

LAYOUT = str(ROOT / "schemas/company.cpy")
BRANCHES = ["--branch", "STATIC-DETAILS=segment_id:C", "--branch", "CONTACTS=segment_id:P"]


def company_file(path: Path, companies: int, seed: int = 7) -> dict[str, list[dict]]:
    """Companies each followed by 0-4 contacts, and one record of no segment ('X'); the
    rows each segment's table must hold, by segment."""
    record = load_layout(LAYOUT).record()
    fields = {f.column: f for f in record.fields}
    rng = random.Random(seed)
    options = DecodeOptions()
    records, expected = [], {"C": [], "P": [], "X": []}
    for c in range(companies):
        company = {"segment_id": "C", "company_id": f"C{c:05d}",
                   "company_name": f"NAME{c:06d}", "taxpayer": rng.randrange(100_000)}
        rows = [company] + [{"segment_id": "P", "company_id": company["company_id"],
                             "phone_number": f"{rng.randrange(10**8):08d}",
                             "calls": rng.randrange(-99_999, 100_000)}
                            for _ in range(rng.randrange(5))]
        if c == companies // 2:
            rows.append({**company, "segment_id": "X"})
        for row in rows:
            raw = np.full((1, record.size), 0x40, dtype=np.uint8)
            for column, value in row.items():
                f = fields[column]
                raw[:, f.offset:f.offset + f.size] = encode_column(f, [value], options)
            records.append(raw.tobytes())
            expected[row["segment_id"]].append(row)
    path.write_bytes(b"".join(records))
    return expected


def load(tmp_path: Path, db: str, *extra: str, command: str = "run") -> tuple[int, dict]:
    source = ["--input", str(tmp_path / "companies.dat")] if command == "run" else [
        str(tmp_path / "companies.dat")]
    return main_json([command, *source, "--layout", LAYOUT, *BRANCHES, "--db", db,
                      "--chunk-records", "300", *extra], tmp_path)


def rows_of(db: str, table: str, columns: list[str]) -> list[dict]:
    import sqlalchemy as sa

    from mfpipe.db.runs import RunStore

    store = RunStore(db)
    try:
        with store.connect() as c:
            found = c.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table}")).all()
        return sorted((dict(zip(columns, row)) for row in found), key=_order)
    finally:
        store.close()


def _order(row: dict) -> tuple:
    return tuple(str(v) for v in row.values())


class TestSegments:
    def test_each_segment_into_its_own_tables(self, tmp_path, db_url):
        """`--segments`: one run per bound branch, each RECONCILED, each table holding its
        segment's records with the columns outside the branches and its own; every record
        is loaded once, or a reject (the record of no segment, in each run)."""
        expected = company_file(tmp_path / "companies.dat", 400)
        code, launch = load(tmp_path, db_url, "--segments")
        assert code == 0, launch
        runs = {r["tables"]["final"]: r for r in launch["runs"]}
        assert set(runs) == {"company_details_static_details", "company_details_contacts"}
        read = sum(len(v) for v in expected.values())
        for table, segment, columns in (
                ("company_details_static_details", "C",
                 ["segment_id", "company_id", "company_name", "taxpayer"]),
                ("company_details_contacts", "P",
                 ["segment_id", "company_id", "phone_number", "calls"])):
            run = runs[table]
            assert run["reconciliation"]["verdict"] == "RECONCILED", run
            counts = run["counts"]
            assert (counts["read"], counts["loaded"], counts["rejected"]) == (
                read, len(expected[segment]), 1)
            assert counts["discarded"] == read - len(expected[segment]) - 1
            assert rows_of(db_url, table, columns) == sorted(expected[segment], key=_order)
        assert load(tmp_path, db_url, "--segments")[0] == 99  # both loaded already

    def test_one_segment_alone_then_reprocessed(self, tmp_path, db_url):
        """`--segment CONTACTS` loads that segment alone; reprocessing it replaces its own
        run and leaves the other segment's alone."""
        expected = company_file(tmp_path / "companies.dat", 100)
        code, contacts = load(tmp_path, db_url, "--segment", "contacts")
        assert code == 0 and contacts["tables"]["final"] == "company_details_contacts"
        code, companies = load(tmp_path, db_url, "--segment", "STATIC-DETAILS")
        assert code == 0, companies
        code, again = load(tmp_path, db_url, "--segment", "CONTACTS", command="reprocess")
        assert code == 0 and again["counts"]["loaded"] == len(expected["P"]), again
        assert len(rows_of(db_url, "company_details_static_details", ["company_id"])) == len(
            expected["C"])

    @pytest.mark.parametrize("extra, said", [
        (["--segments", "--final-table", "everything"], "--final-table"),
        (["--segment", "NOPE"], "not a branch bound"),
    ])
    def test_segment_options_that_cannot_work(self, tmp_path, extra, said):
        company_file(tmp_path / "companies.dat", 5)
        code, summary = load(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", *extra)
        assert code == 78 and said in summary["message"], summary


def test_convert_one_segment(tmp_path):
    """`convert --segment` writes that segment's rows with its columns, and says how many
    records were of other segments (read = written + rejected + other segments)."""
    expected = company_file(tmp_path / "companies.dat", 50)
    code, result = main_json(["convert", LAYOUT, str(tmp_path / "companies.dat"), "-o",
                              str(tmp_path / "contacts.jsonl"), *BRANCHES, "--segment",
                              "CONTACTS"], tmp_path)
    assert code == 0, result
    assert (result["written"], result["rejected"], result["other_segments"]) == (
        len(expected["P"]), 1, len(expected["C"]))
    first = (tmp_path / "contacts.jsonl").read_text().splitlines()[0]
    assert list(json.loads(first)) == ["segment_id", "company_id", "phone_number", "calls"]
