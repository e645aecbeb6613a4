"""Launchers that race: one content under several names launched at once, two restarts of
one run, a launcher stopped (SIGSTOP) past its heartbeat and resumed after its run was
restarted, one file loaded into two targets. Real launchers, real databases; the invariant
is the promise: every record in the final table exactly once, every verdict honest."""

from __future__ import annotations

import os
import shutil
import signal
import time

import sqlalchemy as sa

from mfpipe.db.runs import RunStore
from tests.jobs.support import (RUN_ARGS, file_fingerprint, final_fingerprint, keyed_file,
                                last_json, launcher, main_json, wait_for_commits)



def rows_per_run(db: str, table: str, column: str) -> dict[str, int]:
    store = RunStore(db)
    try:
        with store.connect() as c:
            return {r: int(n) for r, n in c.execute(sa.text(
                f"SELECT {column}, count(*) FROM {table} GROUP BY {column}"))}
    finally:
        store.close()


def published(db: str) -> dict[str, int]:
    """Rows of the final table per run that published them."""
    return rows_per_run(db, "customer_account", "last_run_id")


def staged(db: str) -> dict[str, int]:
    """Rows of the staging table per run."""
    return rows_per_run(db, "stg_customer_account", "run_id")


def statuses(db: str) -> dict[str, str]:
    store = RunStore(db)
    try:
        return {r.run_id: r.status for r in store.runs()}
    finally:
        store.close()


class TestOneContentManyNames:
    def test_names_launched_together_load_it_once(self, tmp_path, db_url):
        """A file, a copy and three symbolic links (one of them to another link), launched
        at the same moment: one launch loads it, the others are told it is being loaded
        (75) or was loaded (99); the final table holds each record once."""
        path = keyed_file(tmp_path / "cust.dat", 60_000)
        names = [path, str(tmp_path / "copy.dat")]
        shutil.copyfile(path, names[1])
        for i in range(3):
            link = tmp_path / f"link{i}.dat"
            os.symlink(names[0] if i < 2 else tmp_path / "link0.dat", link)
            names.append(str(link))
        launches = [launcher(["run", "--input", name, *RUN_ARGS, "--db", db_url, "--json"],
                             tmp_path) for name in names]
        codes = []
        for process in launches:
            out, err = process.communicate(timeout=300)
            codes.append((process.returncode, last_json(out)["status"] if out else err[-500:]))
        assert sorted(code for code, _ in codes).count(0) == 1, codes
        assert all(code in (0, 75, 99) for code, _ in codes), codes
        (run_id, rows), = published(db_url).items()
        assert rows == 60_000 and final_fingerprint(db_url, run_id) == file_fingerprint(path)

    def test_a_file_and_its_resend_in_one_folder(self, tmp_path, db_url):
        """A landing folder holding a file and its re-send under another name, launched
        with two files in parallel: loaded once; the other is skipped (99) or, if it came
        while the first was loading, refused as held (75) and skipped when relaunched."""
        landing = tmp_path / "landing"
        landing.mkdir()
        path = keyed_file(landing / "cust.d1203", 60_000)
        shutil.copyfile(path, landing / "cust.d1203.resend")
        args = ["run", "--input", str(landing / "cust.*"), *RUN_ARGS, "--db", db_url,
                "--parallel-files", "2"]
        code, summary = main_json(args, tmp_path)
        assert code in (0, 75, 99), summary
        assert main_json(args, tmp_path)[0] == 99  # everything is loaded now, once
        (run_id, rows), = published(db_url).items()
        assert rows == 60_000 and final_fingerprint(db_url, run_id) == file_fingerprint(path)


def stopped_run(tmp_path, db: str, records: int = 200_000) -> tuple[str, str]:
    """A run stopped (SIGTERM, 143) after a few chunks: (its file, its id)."""
    path = keyed_file(tmp_path / "in.dat", records)
    process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records",
                        "5000", "--json"], tmp_path)
    wait_for_commits(db, 3)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 143, out[-2000:]
    return path, last_json(out)["run_id"]


class TestRacingRestarts:
    def test_two_restarts_of_one_run(self, tmp_path, db_url):
        """An operator's restart and a scheduler's retry of the same STOPPED run at the same
        moment: one finishes it (0); the other is refused as held (75) or finds it done
        (99). Never both: the final table holds the file once."""
        path, run_id = stopped_run(tmp_path, db_url)
        restarts = [launcher(["restart", run_id, "--db", db_url, "--json"], tmp_path)
                    for _ in range(2)]
        codes = sorted(p.wait(timeout=300) for p in restarts)
        for process in restarts:
            process.communicate()
        assert codes[0] == 0 and codes[1] in (75, 99), codes
        assert published(db_url) == staged(db_url) == {run_id: 200_000}
        assert final_fingerprint(db_url, run_id) == file_fingerprint(path)

    def test_restart_of_a_live_run_is_refused(self, tmp_path, postgres_url):
        """`restart` of a run whose launcher is alive and beating refuses (75) and leaves
        the run alone: its sessions are not ended, it completes."""
        path = keyed_file(tmp_path / "in.dat", 300_000)
        process = launcher(["run", "--input", path, *RUN_ARGS, "--db", postgres_url,
                            "--chunk-records", "5000", "--json"], tmp_path)
        wait_for_commits(postgres_url, 2)
        run_id = next(iter(statuses(postgres_url)))
        code, summary = main_json(["restart", run_id, "--db", postgres_url], tmp_path)
        assert code == 75 and "still running" in summary["message"], summary
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, (out[-2000:], err[-2000:])
        assert published(postgres_url) == {run_id: 300_000}


class TestStalledLauncher:
    def test_a_launcher_resumed_after_its_run_was_restarted_changes_nothing(
            self, tmp_path, db_url):
        """SIGSTOP a launcher past its heartbeat TTL, restart its run (which completes),
        then SIGCONT it: the stale launcher can change nothing (not the run's COMPLETED,
        not the final table, not the file's SUCCESS), and it exits non-zero; the next
        night's launch of the file is skipped (99) and the rows are there once."""
        path = keyed_file(tmp_path / "in.dat", 200_000)
        args = ["run", "--input", path, *RUN_ARGS, "--db", db_url, "--chunk-records", "5000"]
        stale = launcher([*args, "--json"], tmp_path)
        wait_for_commits(db_url, 3)
        os.kill(stale.pid, signal.SIGSTOP)
        try:
            run_id = next(iter(statuses(db_url)))
            time.sleep(8)  # past the TTL below: the stopped launcher looks dead
            code, summary = main_json(["restart", run_id, "--db", db_url, "--heartbeat-ttl",
                                       "6"], tmp_path)
            assert code == 0 and summary["status"] == "COMPLETED", summary
        finally:
            os.kill(stale.pid, signal.SIGCONT)
        out, err = stale.communicate(timeout=300)
        assert stale.returncode != 0, (out[-2000:], err[-2000:])
        assert statuses(db_url) == {run_id: "COMPLETED"}
        assert published(db_url) == staged(db_url) == {run_id: 200_000}
        assert final_fingerprint(db_url, run_id) == file_fingerprint(path)
        assert main_json(args, tmp_path)[0] == 99


class TestTwoTargets:
    def test_one_file_into_two_tables_and_a_reprocess_of_one(self, tmp_path, db_url):
        """The same file loaded into two final tables is two loads (not skipped with 99);
        reprocessing one of them leaves the other's run alone."""
        path = keyed_file(tmp_path / "in.dat", 20_000)
        options = [*RUN_ARGS, "--db", db_url]
        code, first = main_json(["run", "--input", path, *options], tmp_path)
        assert code == 0, first
        code, second = main_json(["run", "--input", path, *options, "--final-table",
                                  "customer_copy"], tmp_path)
        assert code == 0 and second["run_id"] != first["run_id"], second
        code, again = main_json(["reprocess", path, *options], tmp_path)
        assert code == 0, again
        assert statuses(db_url) == {first["run_id"]: "ABANDONED",
                                    second["run_id"]: "COMPLETED",
                                    again["run_id"]: "COMPLETED"}
        assert final_fingerprint(db_url, second["run_id"]) == file_fingerprint(path)
        assert final_fingerprint(db_url, again["run_id"]) == file_fingerprint(path)
