"""Trailer checks through the CLI: the file's own count and totals against what was loaded."""

from __future__ import annotations

import json
import numpy as np
import pytest

from mfpipe.cli import main
from mfpipe.codec.encode import encode_records
from mfpipe.db.runs import RunStore
from mfpipe.layout import load_layout
from mfpipe.recon import ReconciliationService
from tests.support import copybook

BOOK = copybook("""
    01  DETAIL-REC.
        05  REC-TYPE     PIC X.
        05  ACCT         PIC 9(6).
        05  AMOUNT       PIC S9(7)V99 COMP-3.
    01  TRAILER-REC.
        05  TRL-TYPE     PIC X.
        05  TRL-COUNT    PIC 9(6).
        05  TRL-TOTAL    PIC S9(7)V99 COMP-3.
""")


def write_file(tmp_path, amounts: list[int], count: int, total: int) -> tuple[str, str]:
    """Detail records with ``amounts`` (in cents), then a trailer saying ``count``/``total``."""
    layout_path = tmp_path / "book.cpy"
    layout_path.write_text(BOOK)
    layout = load_layout(str(layout_path))
    n = len(amounts)
    details = encode_records(layout.record("DETAIL-REC"), {
        "rec_type": np.array(["D"] * n), "acct": np.arange(1, n + 1),
        "amount": np.array(amounts, dtype=np.int64)}, n)
    trailer = encode_records(layout.record("TRAILER-REC"), {
        "trl_type": np.array(["T"]), "trl_count": np.array([count]),
        "trl_total": np.array([total], dtype=np.int64)}, 1)
    data = tmp_path / "book.dat"
    data.write_bytes(details.tobytes() + trailer.tobytes())
    return str(layout_path), str(data)


def run(tmp_path, layout: str, data: str, *extra: str) -> tuple[int, dict]:
    db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    args = ["run", "--layout", layout, "--input", data, "--db", db, "--record", "DETAIL-REC",
            "--skip-trailer-bytes", "12", "--trailer-record", "TRAILER-REC",
            "--trailer-count", "trl_count", "--trailer-total", "trl_total=amount",
            "--processors", "1", "--writers", "1", "--json", *extra]
    return main(args), db


@pytest.fixture
def capture(capsys):
    def last_json() -> dict:
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return last_json


class TestTrailer:
    def test_matching_trailer_passes(self, tmp_path, capture):
        """A trailer whose count and total match the loaded records reconciles."""
        layout, data = write_file(tmp_path, [150, -25, 1000], 3, 1125)
        code, _ = run(tmp_path, layout, data)
        summary = capture()
        assert code == 0 and summary["reconciliation"]["passed"], summary

    def test_wrong_count_and_total_fail(self, tmp_path, capture):
        """A trailer counting one record more and a cent more fails both checks: exit 65."""
        layout, data = write_file(tmp_path, [150, -25, 1000], 4, 1126)
        code, _ = run(tmp_path, layout, data)
        summary = capture()
        assert code == 65
        assert set(summary["reconciliation"]["failed"]) == {"trailer_count",
                                                            "trailer_total_amount"}

    def test_hash_total_keeps_the_rightmost_digits(self, tmp_path, capture):
        """A sum too wide for the trailer field is compared on the digits the field keeps."""
        amounts = [999_999_999] * 3  # 29,999,999.97 does not fit S9(7)V99
        layout, data = write_file(tmp_path, amounts, 3, 2_999_999_997 % 10**9)
        code, db = run(tmp_path, layout, data)
        summary = capture()
        assert code == 0, summary
        store = RunStore(db)
        check = next(c for c in ReconciliationService(store).report(summary["run_id"]).checks
                     if c.check == "trailer_total_amount")
        store.close()
        assert check.passed and check.expected == "9999999.97"
        assert check.details == ("hash total: the sum 29999999.97 kept to the trailer's 9 "
                                 "digits",)


class TestReconcileCommand:
    def test_reconcile_json_and_reports(self, tmp_path, capture):
        """`reconcile --json` prints the run summary; `report` writes text, HTML and JSON."""
        layout, data = write_file(tmp_path, [100, 200], 2, 300)
        code, db = run(tmp_path, layout, data)
        run_id = capture()["run_id"]
        assert main(["reconcile", run_id, "--db", db, "--json"]) == 0
        summary = capture()
        assert (summary["run_id"], summary["exit_code"]) == (run_id, 0)
        assert summary["counts"]["final"] == 2 and summary["reconciliation"]["passed"]
        for fmt in ("text", "html", "json"):
            out = tmp_path / f"report.{fmt}"
            assert main(["report", run_id, "--db", db, "--format", fmt, "-o", str(out)]) == 0
            assert "trailer_total_amount" in out.read_text()
        assert json.loads((tmp_path / "report.json").read_text())["passed"] is True

    def test_unknown_run_exits_66(self, tmp_path, capsys):
        """Reconciling a run the database does not hold is a clear error, not a traceback."""
        layout, data = write_file(tmp_path, [100], 1, 100)
        run(tmp_path, layout, data)
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        assert main(["reconcile", "20990101T000000Z-000000", "--db", db]) == 66
        assert "no such run" in capsys.readouterr().err
