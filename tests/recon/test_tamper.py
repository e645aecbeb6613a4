"""Tamper tests: an honest run passes every check; each kind of tampering is caught by the
right check, and the report names it and narrows it down."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mfpipe.recon import ReconciliationService
from mfpipe.report import render
from tests.recon.conftest import load


def failed(run) -> dict[str, tuple[str, ...]]:
    """Reconcile again; the failed checks with their details."""
    report = ReconciliationService(run.store).reconcile(run.config.run_id)
    return {c.check: c.details for c in report.checks if not c.passed}


class TestHonestRun:
    def test_every_check_passes(self, loaded):
        """An untouched run reconciles: every check of every kind passes."""
        assert loaded.summary.status == "COMPLETED", loaded.summary.message
        report = ReconciliationService(loaded.store).reconcile(loaded.config.run_id)
        assert report.passed and not report.warnings
        kinds = {c.type for c in report.checks}
        assert {"count", "count_per_worker", "control_total", "content_hash",
                "rule_unique", "rule_not_null", "rule_allowed"} <= kinds
        assert report.counts.final == report.counts.loaded == 6_000

    def test_report_rebuilt_from_the_database(self, loaded):
        """`report` shows the stored results of the last reconciliation, in check order."""
        service = ReconciliationService(loaded.store)
        done = service.reconcile(loaded.config.run_id)
        again = service.report(loaded.config.run_id)
        assert again.checks == done.checks
        assert "VERDICT: RECONCILED" in render(again, "text")


class TestTampering:
    def test_deleted_final_row(self, loaded):
        """A row deleted from the final table fails the final count, totals and hash (and
        nothing on the staging side), and the hash check names the missing key."""
        loaded.execute("DELETE FROM customer_account WHERE cust_id = 4242")
        found = failed(loaded)
        assert {"final_rows", "content_hash_final", "total_balance_final"} <= set(found)
        assert all(name == "final_rows" or name.endswith("_final") for name in found)
        assert any("missing from final" in d and "cust_id=4242" in d
                   for d in found["content_hash_final"])

    def test_duplicated_staging_row(self, loaded):
        """A staging row inserted twice fails the staging counts, the worker's count, the
        staging totals and hash (narrowed to its chunk and record) and the unique-key rule."""
        run_id = loaded.config.run_id
        loaded.execute("INSERT INTO stg_customer_account SELECT * FROM stg_customer_account "
                       "WHERE run_id = :r AND record_no = 2500", r=run_id)
        found = failed(loaded)
        worker = loaded.scalar("SELECT worker_id FROM stg_customer_account WHERE run_id = :r "
                               "AND record_no = 2500 LIMIT 1", r=run_id)
        assert {"staging_rows", f"worker_{worker}_rows", "content_hash_staging",
                "rule_unique_cust_id"} <= set(found)
        details = found["content_hash_staging"]
        assert any(d.startswith("chunk 2 ") for d in details)
        assert any("extra or duplicated in staging: 2500" in d and "cust_id=2500" in d
                   for d in details)

    def test_amount_changed_by_one_cent(self, loaded):
        """One balance moved by a cent in the final table fails that column's final control
        total (discrepancy 0.01) and the final hash, which names the key."""
        loaded.execute("UPDATE customer_account SET balance = balance + 0.01 "
                       "WHERE cust_id = 17")
        report = ReconciliationService(loaded.store).reconcile(loaded.config.run_id)
        bad = {c.check: c for c in report.checks if not c.passed}
        assert set(bad) == {"total_balance_final", "content_hash_final"}
        assert bad["total_balance_final"].discrepancy == "0.01"
        assert any("changed in final" in d and "cust_id=17" in d
                   for d in bad["content_hash_final"].details)

    def test_staging_amount_changed_is_narrowed_to_its_chunk(self, loaded):
        """A staging amount changed by a cent fails that column's staging total, naming the
        chunk and worker whose sum differs."""
        run_id = loaded.config.run_id
        loaded.execute("UPDATE stg_customer_account SET balance = balance - 0.01 "
                       "WHERE run_id = :r AND record_no = 4321", r=run_id)
        found = failed(loaded)
        assert "total_balance_staging" in found
        (line,) = found["total_balance_staging"]
        assert line.startswith("chunk 4 (worker ") and "records 4001-5000" in line

    def test_values_swapped_between_rows(self, loaded):
        """Two staging rows swapping their names keep every count and total: only the
        content hash sees it, narrowed to the two changed records."""
        run_id = loaded.config.run_id
        names = {n: loaded.scalar("SELECT cust_name FROM stg_customer_account WHERE run_id = :r "
                                  "AND record_no = :n", r=run_id, n=n) for n in (10, 3_500)}
        for n, other in ((10, 3_500), (3_500, 10)):
            loaded.execute("UPDATE stg_customer_account SET cust_name = :v WHERE run_id = :r "
                           "AND record_no = :n", v=names[other], r=run_id, n=n)
        found = failed(loaded)
        assert set(found) == {"content_hash_staging", "content_hash_final"}
        assert any("records changed: 10, 3500" in d for d in found["content_hash_staging"])

    def test_tampering_is_named_in_every_report_format(self, loaded):
        """The failed check appears in the text, HTML and JSON reports."""
        loaded.execute("DELETE FROM customer_account WHERE cust_id = 99")
        failed(loaded)
        report = ReconciliationService(loaded.store).report(loaded.config.run_id)
        for fmt in ("text", "html", "json"):
            assert "content_hash_final" in render(report, fmt)
        assert "NOT RECONCILED" in render(report, "text")


class TestRunOutcome:
    def test_failed_rule_fails_the_run_with_65(self, tmp_path, db_url):
        """A fail-severity rule that does not hold ends `run` FAILED with exit code 65; the
        report's samples show amounts as numbers, never as Python reprs."""
        from mfpipe.db.rules import Rule

        run = load(tmp_path, db_url, n=2_000, rules=(Rule.parse("range:balance:0..100"),))
        try:
            assert (run.summary.status, run.summary.exit_code) == ("FAILED", 65)
            assert run.summary.reconciliation["failed"] == ["rule_range_balance"]
            text = render(ReconciliationService(run.store).report(run.config.run_id), "text")
            sample = next(line for line in text.splitlines() if "- balance: " in line)
            assert "Decimal" not in text and "'" not in sample, sample
        finally:
            run.store.close()

    @pytest.mark.parametrize("severity", ["warn"])
    def test_warn_rule_does_not_fail_the_run(self, tmp_path, db_url, severity):
        """A warn-severity rule that does not hold is reported, and the run completes."""
        from mfpipe.db.rules import Rule

        run = load(tmp_path, db_url, n=2_000,
                   rules=(Rule.parse(f"range:balance:0..100/{severity}"),))
        try:
            assert (run.summary.status, run.summary.exit_code) == ("COMPLETED", 0)
            assert run.summary.reconciliation["warnings"] == ["rule_range_balance"]
            assert run.summary.reconciliation["verdict"] == "RECONCILED WITH WARNINGS"
        finally:
            run.store.close()

    def test_low_values_kept_in_text_reconcile(self, tmp_path, db_url):
        """``--low-values keep`` stores U+0000 in text on SQLite; the SQL row that hashes it
        must keep every character after it (SQLite's printf row would stop there)."""
        if not db_url.startswith("sqlite"):
            pytest.skip("PostgreSQL text cannot hold U+0000")
        from mfpipe.codec import DecodeOptions
        from mfpipe.layout import load_layout
        from tests.recon.conftest import LAYOUT, keyed_file

        field = next(f for f in load_layout(LAYOUT).record().fields if f.column == "cust_name")
        data = bytearray(open(keyed_file(tmp_path / "src.dat", 2_000), "rb").read())
        for record in (3, 1_500):
            data[record * 100 + field.offset + 1] = 0x00
        (tmp_path / "nul.dat").write_bytes(bytes(data))
        run = load(tmp_path, db_url, n=2_000, input_path=str(tmp_path / "nul.dat"),
                   decode=DecodeOptions(dates=(("open_date", "YYYYMMDD"),), low_values="keep"))
        try:
            assert (run.summary.status, run.summary.exit_code) == ("COMPLETED", 0), \
                run.summary.message
            assert run.scalar("SELECT count(*) FROM customer_account "
                              "WHERE instr(cust_name, char(0)) > 0") == 2
        finally:
            run.store.close()

    def test_rates_of_seven_decimal_places_reconcile(self, tmp_path, db_url, capsys):
        """Zeros and tiny values in an SV9(7) field hash alike in the processors and in the
        database (Arrow alone writes them 0E-7; PostgreSQL writes 0.0000000)."""
        import json

        from mfpipe.cli import main
        from tests.support import copybook

        layout = tmp_path / "rate.cpy"
        layout.write_text(copybook("""
            01  RATE-REC.
                05  RATE-ID  PIC 9(4).
                05  RATE     PIC SV9(7) COMP-3.
            """))
        data = tmp_path / "rates.dat"
        data.write_bytes(b"".join(f"{i:04d}".encode("cp037") + packed for i, packed in enumerate(
            [b"\x00\x00\x00\x0c", b"\x00\x00\x00\x1d", b"\x12\x34\x56\x7c"])))
        code = main(["run", "--layout", str(layout), "--input", str(data), "--db", db_url,
                     "--json"])
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (code, summary["reconciliation"]["passed"]) == (0, True), summary

    def test_totals_wider_than_python_keeps_by_default(self, tmp_path, db_url, capsys):
        """Amounts of 31 digits, in several chunks: their totals (34 digits) are combined
        and compared unrounded wherever they are added (Python's default context keeps
        28), at publication and by a later `reconcile`."""
        import json

        from mfpipe.cli import main

        layout, data = twelve_amounts(tmp_path, "S9(29)V99", "9" * 31 + "c")
        args = ["--db", db_url, "--json"]
        code = main(["run", "--layout", str(layout), "--input", str(data), "--chunk-records",
                     "3", *args])
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (code, summary["reconciliation"]["passed"]) == (0, True), summary
        assert main(["reconcile", summary["run_id"], *args]) == 0
        audit = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert audit["reconciliation"]["passed"], audit
        assert main(["report", summary["run_id"], "--db", db_url, "--format", "json"]) == 0
        checks = {c["check"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
        assert checks["total_amount_final"]["actual"] == "1199999999999999999999999999999.88"

    def test_money_totals_past_two_to_the_63(self, tmp_path, db_url, capsys):
        """Twelve amounts of 9,999,999,999,999,999.99 sum past 2**63 as unscaled integers:
        SQLite's plain sum overflows and is summed again in halves; every total is exact."""
        import json

        from mfpipe.cli import main
        from mfpipe.db.runs import RunStore
        from mfpipe.recon.measures import measure_run
        from mfpipe.recon.subject import RunSubject

        layout, data = twelve_amounts(tmp_path, "S9(16)V99", "0" + "9" * 18 + "c")
        code = main(["run", "--layout", str(layout), "--input", str(data), "--db", db_url,
                     "--json"])
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (code, summary["reconciliation"]["passed"]) == (0, True), summary
        store = RunStore(db_url)
        measured = measure_run(RunSubject.load(store, summary["run_id"]))
        expected = 12 * Decimal("9999999999999999.99")
        assert measured.final.totals["amount"] == measured.staging.staged.totals["amount"] \
            == expected
        store.close()


def twelve_amounts(tmp_path: Path, picture: str, packed: str) -> tuple[Path, Path]:
    """A copybook of an id and a COMP-3 ``AMOUNT PIC picture``, and a file of twelve
    records whose amounts are the packed bytes ``packed`` (hex)."""
    from tests.support import copybook

    layout = tmp_path / "amounts.cpy"
    layout.write_text(copybook(f"""
        01  AMOUNT-REC.
            05  AMOUNT-ID  PIC 9(4).
            05  AMOUNT     PIC {picture} COMP-3.
        """))
    data = tmp_path / "amounts.dat"
    data.write_bytes(b"".join(f"{i:04d}".encode("cp037") + bytes.fromhex(packed)
                              for i in range(12)))
    return layout, data
