"""Multi-segment files: one load per segment, each with its own columns into its own tables,
each reconciled on its own; together they account for every record of the file."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mfpipe.codec import DecodeOptions
from mfpipe.codec.encode import encode_column
from mfpipe.layout import load_layout
from tests.jobs.support import last_json, launcher, main_json, wait_for_commits
from tests.support import ROOT

LAYOUT = str(ROOT / "schemas/company.cpy")
BRANCHES = ["--branch", "STATIC-DETAILS=segment_id:C", "--branch", "CONTACTS=segment_id:P"]


def company_file(path: Path, companies: int, seed: int = 7, orphans: int = 0
                 ) -> dict[str, list[dict]]:
    """Companies each followed by 0-4 contacts, one record of no segment ('X'), and
    ``orphans`` contacts before the first company; the rows each segment's table must hold,
    by segment, with (under "links") each contact's parent record number and name."""
    record = load_layout(LAYOUT).record()
    fields = {f.column: f for f in record.fields}
    rng = random.Random(seed)
    options = DecodeOptions()
    records, expected = [], {"C": [], "P": [], "X": [], "links": []}
    for o in range(orphans):
        expected["X"].append({"segment_id": "P", "company_id": "NOBODY",
                              "phone_number": f"{o:08d}", "calls": 0})
    records += [_encoded(record, fields, row, options) for row in expected["X"]]
    for c in range(companies):
        company = {"segment_id": "C", "company_id": f"C{c:05d}",
                   "company_name": f"NAME{c:06d}", "taxpayer": rng.randrange(100_000)}
        rows = [company] + [{"segment_id": "P", "company_id": company["company_id"],
                             "phone_number": f"{rng.randrange(10**8):08d}",
                             "calls": rng.randrange(-99_999, 100_000)}
                            for _ in range(rng.randrange(5))]
        if c == companies // 2:
            rows.append({**company, "segment_id": "X"})
        parent_no = len(records) + 1
        for row in rows:
            records.append(_encoded(record, fields, row, options))
            expected[row["segment_id"]].append(row)
            if row["segment_id"] == "P":
                expected["links"].append({"phone_number": row["phone_number"],
                                          "parent_record_no": parent_no,
                                          "parent_company_name": company["company_name"]})
    path.write_bytes(b"".join(records))
    return expected


def _encoded(record, fields, row: dict, options: DecodeOptions) -> bytes:
    raw = np.full((1, record.size), 0x40, dtype=np.uint8)
    for column, value in row.items():
        f = fields[column]
        raw[:, f.offset:f.offset + f.size] = encode_column(f, [value], options)
    return raw.tobytes()


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


def _published_any(db: str) -> bool:
    from mfpipe.db.runs import RunStore

    store = RunStore(db)
    try:
        return bool(store.runs())
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
        read = sum(len(expected[s]) for s in "CPX")
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
        (["--segments", "--key", "company_name"], "not a column of segment CONTACTS"),
        (["--segments", "--when", "company_name = 'X'"], "not a column of segment CONTACTS"),
        (["--segment", "CONTACTS", "--when", "taxpayer > 5"], "not a column of segment"),
    ])
    def test_segment_options_that_cannot_work(self, tmp_path, extra, said):
        """Refused (78) before any segment loads: never one table published and the next
        segment refused."""
        company_file(tmp_path / "companies.dat", 5)
        db = f"sqlite:///{tmp_path / 'm.db'}"
        code, summary = load(tmp_path, db, *extra)
        assert code == 78 and said in summary["message"], summary
        assert not (tmp_path / "m.db").exists() or not _published_any(db)

    def test_a_condition_on_a_common_column(self, tmp_path, db_url):
        """--when on a column every segment holds narrows a segment load as it would any."""
        expected = company_file(tmp_path / "companies.dat", 50)
        code, summary = load(tmp_path, db_url, "--segment", "CONTACTS", "--when",
                             "company_id <> 'C00001'")
        assert code == 0, summary
        assert summary["counts"]["loaded"] == sum(
            r["company_id"] != "C00001" for r in expected["P"])


class TestParents:
    PARENT = ["--parent", "CONTACTS=STATIC-DETAILS:company_name"]

    def test_each_child_row_carries_its_parent(self, tmp_path, db_url):
        """Every contact row carries the record number and name of the company before it,
        across chunk boundaries; contacts before the first company are rejects (no
        parent), never rows linked to nothing or to the wrong company."""
        expected = company_file(tmp_path / "companies.dat", 600, orphans=2)
        code, launch = load(tmp_path, db_url, "--segments", *self.PARENT)
        assert code == 0, launch
        contacts = next(r for r in launch["runs"] if r["tables"]["final"].endswith("contacts"))
        assert contacts["reconciliation"]["verdict"] == "RECONCILED", contacts
        assert contacts["counts"]["rejected"] == 3  # two orphans and the record of no segment
        columns = ["phone_number", "parent_record_no", "parent_company_name"]
        assert rows_of(db_url, "company_details_contacts", columns) == sorted(
            expected["links"], key=_order)

    def test_a_restart_links_the_chunks_it_loads_as_the_first_attempt_would(
            self, tmp_path, db_url):
        """A child segment's load stopped after a few chunks and restarted: the chunks the
        restart loads find their parents in chunks it skipped (the ledger had them)."""
        expected = company_file(tmp_path / "companies.dat", 12_000)
        args = ["run", "--input", str(tmp_path / "companies.dat"), "--layout", LAYOUT,
                *BRANCHES, *self.PARENT, "--segment", "CONTACTS", "--db", db_url,
                "--chunk-records", "500", "--processors", "1", "--writers", "1", "--json"]
        process = launcher(args, tmp_path)
        wait_for_commits(db_url, 3)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=120)
        stopped = last_json(out)
        assert process.returncode == 143 and stopped["counts"]["chunks_committed"] < 60, out
        code, done = main_json(["restart", stopped["run_id"], "--db", db_url], tmp_path)
        assert code == 0 and done["reconciliation"]["verdict"] == "RECONCILED", done
        columns = ["phone_number", "parent_record_no", "parent_company_name"]
        assert rows_of(db_url, "company_details_contacts", columns) == sorted(
            expected["links"], key=_order)

    @pytest.mark.parametrize("extra, said", [
        (["--parent", "CONTACTS=NOPE"], "NOPE is not a branch bound"),
        (["--parent", "CONTACTS=STATIC-DETAILS:phone_number"], "phone_number is not a field"),
        (["--parent", "CONTACTS=CONTACTS"], "its own ancestor"),
        (["--parent", "CONTACTS=STATIC-DETAILS", "--parent", "STATIC-DETAILS=CONTACTS"],
         "its own ancestor"),
        (["--parent", "CONTACTS=STATIC-DETAILS", "--parent", "CONTACTS=CONTACTS"],
         "has a parent already"),
        (["--parent", "CONTACTS=STATIC-DETAILS:company_name,company_name"], "named twice"),
        (["--parent", "CONTACTS=STATIC-DETAILS", "--skip-records", "2"], "--skip-records"),
    ])
    def test_a_parent_that_cannot_work(self, tmp_path, extra, said):
        """Every hierarchy that cannot be right is refused (78) before a byte is read."""
        company_file(tmp_path / "companies.dat", 5)
        code, summary = load(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", "--segment",
                             "CONTACTS", *extra)
        assert code == 78 and said in summary["message"], summary

    def test_a_parent_without_a_segment_load_is_refused(self, tmp_path):
        company_file(tmp_path / "companies.dat", 5)
        code, summary = load(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", "--parent",
                             "CONTACTS=STATIC-DETAILS")
        assert code == 78 and "give --segment or --segments" in summary["message"], summary


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


def test_convert_nested(tmp_path):
    """`convert --nested`: one row per company with its contacts inside it, as the segment
    loads link them; an orphan contact and the record of no segment are rejects."""
    expected = company_file(tmp_path / "companies.dat", 30, orphans=1)
    code, result = main_json(["convert", LAYOUT, str(tmp_path / "companies.dat"), "-o",
                              str(tmp_path / "nested.parquet"), *BRANCHES, "--parent",
                              "CONTACTS=STATIC-DETAILS", "--nested", "--chunk-records", "7"],
                             tmp_path)
    assert code == 0, result
    assert (result["rows"], result["written"], result["rejected"]) == (
        len(expected["C"]), len(expected["C"]) + len(expected["P"]), 2)
    companies = pq.read_table(tmp_path / "nested.parquet").to_pylist()
    assert [{k: v for k, v in c.items() if k != "contacts"} for c in companies] == expected["C"]
    contacts = [p for c in companies for p in c["contacts"]]
    assert contacts == expected["P"]  # the orphan (under "X") is a reject
    assert all(p["company_id"] == c["company_id"] for c in companies for p in c["contacts"])


def test_convert_nested_needs_one_tree(tmp_path):
    company_file(tmp_path / "companies.dat", 3)
    code, result = main_json(["convert", LAYOUT, str(tmp_path / "companies.dat"), "-o",
                              str(tmp_path / "nested.jsonl"), *BRANCHES, "--nested"], tmp_path)
    assert code == 78 and "--nested needs the hierarchy" in result["message"], result
    assert not (tmp_path / "nested.jsonl").exists()
