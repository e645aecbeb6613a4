"""`mfpipe runs ...`: what an operator sees of the runs, as text and as JSON."""

from __future__ import annotations

import json

from mfpipe.cli import main
from tests.jobs.support import RUN_ARGS, keyed_file


def runs(capsys, *args: str):
    code = main(["runs", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in args else out


class TestRunsCommands:
    def test_list_show_stats(self, tmp_path, capsys):
        """list filters by status and job, show has chunks and checks, stats counts per job."""
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 2_000)
        assert main(["run", "--input", path, *RUN_ARGS, "--db", db, "--job", "nightly",
                     "--chunk-records", "500"]) == 0
        capsys.readouterr()
        code, listed = runs(capsys, "list", "--db", db, "--status", "completed", "--json")
        assert code == 0 and [r["job"] for r in listed] == ["nightly"]
        assert runs(capsys, "list", "--db", db, "--job", "other", "--json")[1] == []
        run_id = listed[0]["run_id"]
        code, shown = runs(capsys, "show", run_id, "--db", db, "--json")
        assert len(shown["chunks"]) == 4 and shown["run"]["status"] == "COMPLETED"
        assert {c["check_name"] for c in shown["checks"]} >= {"content_hash_final",
                                                               "final_rows"}
        code, stats = runs(capsys, "stats", "--db", db, "--json")
        assert stats[0]["job"] == "nightly" and stats[0]["success_rate"] == 1.0
        code, text = runs(capsys, "show", run_id, "--db", db)
        assert "chunk     3 worker" in text and "check content_hash_final" in text

    def test_cancel_of_a_finished_run_is_refused(self, tmp_path, capsys):
        """Only a running run can be cancelled; the message says why not."""
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 500)
        main(["run", "--input", path, *RUN_ARGS, "--db", db, "--json"])
        run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
        assert main(["runs", "cancel", run_id, "--db", db]) == 64
        assert "nothing to cancel" in capsys.readouterr().err

    def test_restart_of_a_completed_run_exits_99(self, tmp_path, capsys):
        """A completed run has nothing to restart: exit 99, and the message says reprocess."""
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 500)
        main(["run", "--input", path, *RUN_ARGS, "--db", db, "--json"])
        run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
        assert main(["restart", run_id, "--db", db]) == 99
        assert "reprocess" in capsys.readouterr().err
