"""`mfpipe runs ...`: what an operator sees of the runs, as text and as JSON."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from mfpipe.cli import main
from mfpipe.db.control import mfp_chunk, mfp_run
from mfpipe.db.urls import create_engine
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
        code, text = runs(capsys, "list", "--db", db, "--limit", "1")
        header, row = text.splitlines()
        assert header.split()[:4] == ["RUN", "ID", "STATUS", "JOB"] and "ELAPSED" in header
        assert row.startswith(run_id) and "2,000" in row and row.endswith("in.dat")

    def test_a_newline_in_a_file_name_cannot_forge_a_line(self, tmp_path, capsys):
        """`runs list` and `runs show` print one line per run and per key, whatever the
        file's name holds: control characters are shown escaped."""
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in\n20991231T000000Z-forged  COMPLETED.dat", 300)
        assert main(["run", "--input", path, *RUN_ARGS, "--db", db]) == 0
        capsys.readouterr()
        code, text = runs(capsys, "list", "--db", db)
        assert len(text.splitlines()) == 2 and "in\\n2099" in text
        run_id = text.splitlines()[1].split()[0]
        code, text = runs(capsys, "show", run_id, "--db", db)
        assert not any(line.startswith("2099") for line in text.splitlines())

    def test_stats_count_superseded_runs_apart(self, tmp_path, capsys):
        """A reprocess supersedes the earlier run (ABANDONED): stats count it apart, and
        the job's success rate stays 100% (it used to count as a failure)."""
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 500)
        for command in (["run", "--input", path], ["reprocess", path]):
            assert main([*command, *RUN_ARGS, "--db", db, "--job", "nightly"]) == 0
        capsys.readouterr()
        stats = runs(capsys, "stats", "--db", db, "--json")[1][0]
        assert (stats["runs"], stats["completed"], stats["abandoned"]) == (2, 1, 1)
        assert stats["success_rate"] == 1.0

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


class TestPurge:
    def test_purge_deletes_old_finished_runs_staging_rows_only(self, db_url, tmp_path, capsys):
        """Only COMPLETED/ABANDONED runs older than the cut lose their staging rows, once;
        FAILED runs, recent runs, final rows and the ledger stay; the purge is recorded."""
        first = keyed_file(tmp_path / "a.dat", 1_500)
        second = keyed_file(tmp_path / "b.dat", 700, seed=9, first_key=5_000)
        ids = []
        for path in (first, second):
            assert main(["run", "--input", path, *RUN_ARGS, "--db", db_url, "--json"]) == 0
            ids.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"])
        old, failed = ids
        assert runs(capsys, "purge", "--older-than", "1", "--db", db_url, "--json")[1] == {
            "dry_run": False, "runs": []}  # both ended just now
        engine = create_engine(db_url)
        two_days_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=2)
        with engine.begin() as c:
            c.execute(mfp_run.update().values(ended_at=two_days_ago))
            c.execute(mfp_run.update().where(mfp_run.c.run_id == failed).values(
                status="FAILED"))
        _, planned = runs(capsys, "purge", "--older-than", "1", "--dry-run", "--db", db_url,
                           "--json")
        assert planned["runs"] == [{"run_id": old, "staging_table": "stg_customer_account",
                                    "rows": 1_500}]
        assert staged(engine) == {old: 1_500, failed: 700}  # a dry run deletes nothing
        assert runs(capsys, "purge", "--older-than", "1", "--db", db_url, "--json")[1] == {
            "dry_run": False, "runs": planned["runs"]}
        assert staged(engine) == {failed: 700}
        with engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(
                sa.table("customer_account"))).scalar_one() == 2_200
            assert c.execute(sa.select(sa.func.count()).select_from(mfp_chunk).where(
                mfp_chunk.c.run_id == old)).scalar_one() == 1
        engine.dispose()
        assert runs(capsys, "purge", "--older-than", "1", "--db", db_url, "--json")[1][
            "runs"] == []  # once only
        assert "staging purged" in runs(capsys, "show", old, "--db", db_url)[1]

    def test_a_purged_run_is_not_reconciled_again_but_keeps_its_report(self, tmp_path,
                                                                       capsys):
        """reconcile of a purged run exits 66 naming the purge, instead of failing checks
        against an empty staging; its report still shows the checks it passed."""
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 500)
        main(["run", "--input", path, *RUN_ARGS, "--db", db, "--json"])
        run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
        assert main(["runs", "purge", "--older-than", "0", "--db", db]) == 0
        assert "purged the staging rows of 1 run(s), 500 rows" in capsys.readouterr().out
        assert main(["reconcile", run_id, "--db", db]) == 66
        assert "purged at" in capsys.readouterr().err
        assert main(["report", run_id, "--db", db]) == 0
        assert "RECONCILED" in capsys.readouterr().out


def staged(engine) -> dict[str, int]:
    """Staging rows per run."""
    staging = sa.table("stg_customer_account", sa.column("run_id"))
    with engine.connect() as c:
        return dict(c.execute(sa.select(staging.c.run_id, sa.func.count())
                              .group_by(staging.c.run_id)).all())
