"""Fault injection with real processes and real databases: kills at many points, restarts,
two launchers at once, cancel, recover, files that change or vanish while read."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from mfpipe.db.runs import RunStore
from mfpipe.framing import FramingOptions
from mfpipe.jobs.load import load_file
from mfpipe.jobs.restart import restart_run
from mfpipe.pipeline.spec import JobSpec
from tests.jobs.support import (CLI, RUN_ARGS, descendants_of, file_fingerprint,
                                final_fingerprint, keyed_file, last_json, launcher, main_json,
                                wait_for_commits, wait_gone)
from tests.conftest import FaultCluster
from tests.recon.conftest import LAYOUT, OPTIONS

RECORDS, CHUNK = 120_000, 400  # 300 chunks: room for 20 kills, each a few commits after
# the last, and for the chunks in flight that still commit after each (about ten)



def config(path: str, db_url: str) -> JobSpec:
    return JobSpec.of(LAYOUT, path, db_url, FramingOptions("FB", lrecl=100), OPTIONS,
                     processors=2, writers=2, chunk_records=CHUNK, key=("cust_id",))


def kill_launcher(args: list[str], db_url: str, commits: int, cwd) -> None:
    """Start `mfpipe ARGS`, SIGKILL it once ``commits`` chunks are in, wait for its children."""
    process = launcher(args, cwd)
    wait_for_commits(db_url, commits)
    children = descendants_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    wait_gone(children)  # processors and writer leave when their launcher is gone


def kill_child(victim: str, db_url: str, commits: int) -> threading.Thread:
    """A thread that SIGKILLs this process's child ``victim`` once ``commits`` are in."""
    def kill() -> None:
        wait_for_commits(db_url, commits)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for child in mp.active_children():
                if child.name == victim:
                    os.kill(child.pid, signal.SIGKILL)
                    return
            time.sleep(0.01)
    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


class TestKillAndRestart:
    def test_twenty_kills_then_the_uninterrupted_result(self, tmp_path, db_url):
        """SIGKILL of the launcher, a processor or the writer at 20 points across one run,
        each followed by a restart: the final table equals the uninterrupted result
        exactly, and reconciliation passes."""
        path = keyed_file(tmp_path / "in.dat", RECORDS)
        victims = ["launcher", "processor-1", "writer", "processor-2"]
        run_id = None
        for point in range(20):
            commits, victim = committed(db_url) + 2, victims[point % len(victims)]
            if victim == "launcher":
                args = (["run", "--input", path, *RUN_ARGS] if run_id is None else
                        ["restart", run_id]) + ["--db", db_url]
                if run_id is None:
                    args += ["--chunk-records", str(CHUNK)]
                kill_launcher(args, db_url, commits, tmp_path)
            else:
                killer = kill_child(victim, db_url, commits)
                summary = (load_file(config(path, db_url)) if run_id is None else
                           restart_run(run_id, db_url))
                killer.join(30)
                assert summary.status == "FAILED" and victim in summary.message, summary
            run_id = run_id or _only_run(db_url)
        summary = restart_run(run_id, db_url)
        assert summary.status == "COMPLETED", summary.message
        assert summary.reconciliation["passed"], summary.reconciliation
        assert final_fingerprint(db_url, run_id) == file_fingerprint(path)


def committed(db_url: str) -> int:
    """Chunks in the ledger so far (0 before the control tables exist)."""
    store = RunStore(db_url)
    try:
        with store.engine.connect() as c:
            return int(c.execute(sa.text("SELECT count(*) FROM mfp_chunk")).scalar_one())
    except sa.exc.DatabaseError:
        return 0
    finally:
        store.close()


def _only_run(db_url: str) -> str:
    store = RunStore(db_url)
    with store.engine.connect() as c:
        (run_id,) = c.execute(sa.text("SELECT run_id FROM mfp_run")).scalars().all()
    store.close()
    return run_id


class TestTwoLaunchers:
    def test_exactly_one_loads(self, tmp_path, db_url, fresh_db):
        """Two launchers started together on one file, ten times: one loads, the other
        exits 75 while the first is still loading."""
        path = keyed_file(tmp_path / "in.dat", 60_000)
        for attempt in range(10):
            db = db_url if attempt == 0 else fresh_db(attempt)
            args = ["run", "--input", path, *RUN_ARGS, "--db", db, "--json"]
            first, second = launcher(args, tmp_path), launcher(args, tmp_path)
            outs = [p.communicate(timeout=120) for p in (first, second)]
            codes = sorted(p.returncode for p in (first, second))
            assert codes == [0, 75], outs
            refused = next(last_json(o) for (o, _), p in zip(outs, (first, second))
                           if p.returncode == 75)
            assert "is being loaded by run" in refused["message"]
            store = RunStore(db)
            with store.engine.connect() as c:
                assert c.execute(sa.text("SELECT count(*) FROM customer_account")
                                 ).scalar_one() == 60_000
            store.close()


@pytest.fixture
def fresh_db(db_url, tmp_path):
    """Makes further empty databases of the same kind (SQLite files, or schemas, dropped
    afterwards)."""
    schemas: list[str] = []

    def make(attempt: int) -> str:
        if db_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'attempt{attempt}.db'}"
        base = db_url.split("search_path%3D")[1].split("&")[0]
        schemas.append(f"{base}_{attempt}")
        with _admin(db_url) as c:
            c.execute(sa.text(f"CREATE SCHEMA {schemas[-1]}"))
        return db_url.replace(f"search_path%3D{base}", f"search_path%3D{schemas[-1]}")

    yield make
    for schema in schemas:
        with _admin(db_url) as c:
            c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


@contextlib.contextmanager
def _admin(db_url: str):
    engine = sa.create_engine(RunStore(db_url).engine.url)
    try:
        with engine.begin() as c:
            yield c
    finally:
        engine.dispose()


class TestOperatorCommands:
    def test_cancel_stops_at_a_chunk_boundary_and_restart_finishes(self, tmp_path, db_url):
        """`runs cancel` stops the running launcher (STOPPED, 143); `restart` completes it."""
        path = keyed_file(tmp_path / "in.dat", 200_000)
        process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db_url,
                            "--chunk-records", "1000", "--json"], tmp_path)
        wait_for_commits(db_url, 3)
        from mfpipe.cli import main

        run_id = _only_run(db_url)
        assert main(["runs", "cancel", run_id, "--db", db_url]) == 0
        out, err = process.communicate(timeout=60)
        assert process.returncode == 143, err
        assert last_json(out)["status"] == "STOPPED"
        summary = restart_run(run_id, db_url)
        assert summary.status == "COMPLETED" and summary.counts["loaded"] == 200_000

    def test_recover_marks_a_killed_launchers_run_failed(self, tmp_path, db_url):
        """After a SIGKILL of the launcher the run is recovered to FAILED by `runs recover`,
        and the next launch on the file is not refused."""
        from mfpipe.cli import main

        path = keyed_file(tmp_path / "in.dat", 100_000)
        kill_launcher(["run", "--input", path, *RUN_ARGS, "--db", db_url, "--chunk-records",
                       "1000"], db_url, 2, tmp_path)
        run_id = _only_run(db_url)
        assert main(["runs", "recover", "--db", db_url]) == 0
        assert RunStore(db_url).run(run_id).status == "FAILED"
        assert restart_run(run_id, db_url).status == "COMPLETED"

    def test_restart_ends_the_dead_launchers_sessions(self, tmp_path, postgres_url):
        """A launcher killed while its writer's commit is still in the server: the restart
        ends that session before reading the ledger, instead of loading the chunk beside it
        (here the session holds a chunk's ledger row uncommitted; left alone, the restart's
        writer would wait on it)."""
        from mfpipe.db.control import mfp_chunk
        from mfpipe.db.urls import create_engine, session_url

        path = keyed_file(tmp_path / "in.dat", 100_000)
        kill_launcher(["run", "--input", path, *RUN_ARGS, "--db", postgres_url,
                       "--chunk-records", "1000"], postgres_url, 2, tmp_path)
        run_id = _only_run(postgres_url)
        store = RunStore(postgres_url)
        ledger = store.ledger(run_id)
        chunk = min(set(range(100)) - {c.chunk_id for c in ledger})
        leftover = create_engine(session_url(postgres_url, run_id)).connect()
        leftover.begin()
        copied = {**dataclasses.asdict(ledger[0]), "chunk_id": chunk}
        leftover.execute(mfp_chunk.insert().values(copied))
        restarted: list = []
        thread = threading.Thread(target=lambda: restarted.append(restart_run(run_id,
                                                                              postgres_url)))
        thread.start()
        thread.join(timeout=60)
        try:
            assert restarted and restarted[0].status == "COMPLETED", "the restart waited"
            assert final_fingerprint(postgres_url, run_id)[0] == 100_000
            with pytest.raises(sa.exc.OperationalError):
                leftover.execute(sa.text("SELECT 1"))
        finally:
            leftover.invalidate()
            thread.join(timeout=60)
            store.close()


CLOSE_FINAL = {
    "sqlite": ["CREATE TRIGGER closed BEFORE INSERT ON customer_account "
               "BEGIN SELECT RAISE(ABORT, 'final table closed'); END"],
    "postgresql": ["CREATE FUNCTION closed() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'final table closed'; END $$",
                   "CREATE TRIGGER closed BEFORE INSERT ON customer_account FOR EACH ROW "
                   "EXECUTE FUNCTION closed()"]}
OPEN_FINAL = {"sqlite": ["DROP TRIGGER closed"],
              "postgresql": ["DROP TRIGGER closed ON customer_account"]}


class TestFailureAfterTheLoad:
    def test_failed_promotion_of_a_reprocess_then_restart(self, tmp_path, db_url, capsys):
        """Promotion fails (a trigger refuses the final table's inserts): the run ends FAILED
        with exit 70, a JSON summary and the restart command in its message, the earlier load
        untouched. After the trigger is gone, `restart` promotes and reconciles, and still
        replaces the earlier load (append mode: otherwise both loads' rows would stay)."""
        from mfpipe.cli import main

        args = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--chunk-records", "1000",
                "--db", db_url, "--json"]
        path = keyed_file(tmp_path / "in.dat", 3_000)
        assert main(["run", "--input", path, *args]) == 0
        first = last_json(capsys.readouterr().out)["run_id"]
        dialect = RunStore(db_url).dialect.name
        with _admin(db_url) as c:
            for sql in CLOSE_FINAL[dialect]:
                c.execute(sa.text(sql))
        assert main(["reprocess", path, *args]) == 70
        failed = last_json(capsys.readouterr().out)
        assert failed["status"] == "FAILED" and "final table closed" in failed["message"]
        assert f"mfpipe restart {failed['run_id']}" in failed["message"]
        assert final_fingerprint(db_url, first)[0] == 3_000  # the earlier load stays whole
        with _admin(db_url) as c:
            for sql in OPEN_FINAL[dialect]:
                c.execute(sa.text(sql))
        assert main(["restart", failed["run_id"], "--db", db_url, "--json"]) == 0
        done = last_json(capsys.readouterr().out)
        assert done["status"] == "COMPLETED" and done["reconciliation"]["passed"]
        assert final_fingerprint(db_url, failed["run_id"])[0] == 3_000
        assert final_fingerprint(db_url, first)[0] == 0
        assert RunStore(db_url).run(first).status == "ABANDONED"

    def test_a_publication_that_would_duplicate_rows_is_rolled_back(self, tmp_path, db_url,
                                                                    capsys):
        """A published run forced back to FAILED (a state publication never leaves: rows
        and COMPLETED commit together) and restarted: its second publication finds the
        final table holding twice the staging rows, fails its proof (exit 65) and rolls
        back; the append-mode final table still holds every row once."""
        from mfpipe.cli import main

        path = keyed_file(tmp_path / "in.dat", 2_500)
        assert main(["run", "--input", path, "--layout", LAYOUT, "--date", "open_date=YYYYMMDD",
                     "--chunk-records", "1000", "--db", db_url, "--json"]) == 0
        run_id = last_json(capsys.readouterr().out)["run_id"]
        store = RunStore(db_url)
        store.update(run_id, status="FAILED")
        assert main(["restart", run_id, "--db", db_url, "--json"]) == 65
        assert "final_rows" in last_json(capsys.readouterr().out)["reconciliation"]["failed"]
        with store.engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM customer_account")).scalar() == 2_500
        store.close()

    def test_launcher_killed_during_promotion(self, tmp_path, postgres_url):
        """A launcher killed after the load, while it publishes: nothing is published, the
        run still says STARTED (never COMPLETED without its proof), is recovered FAILED,
        and a restart ends the dead publication's session and publishes: every row once.
        (A trigger holds promotion in pg_sleep so the kill lands there.)"""
        from mfpipe.cli import main

        path = keyed_file(tmp_path / "in.dat", 3_000)
        args = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--chunk-records", "1000",
                "--db", postgres_url]
        assert main(["run", "--input", keyed_file(tmp_path / "other.dat", 10, first_key=9_000),
                     *args]) == 0  # the tables exist, for the trigger
        with _admin(postgres_url) as c:
            c.execute(sa.text("CREATE FUNCTION held() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$"))
            c.execute(sa.text("CREATE TRIGGER held BEFORE INSERT ON customer_account "
                              "FOR EACH STATEMENT EXECUTE FUNCTION held()"))
        process = launcher(["run", "--input", path, *args], tmp_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _sleeping(postgres_url):
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        store = RunStore(postgres_url)
        with store.engine.connect() as c:
            (run_id,) = c.execute(sa.text("SELECT run_id FROM mfp_run WHERE file = :f"),
                                  {"f": path}).scalars().all()
        assert store.run(run_id).status == "STARTED"
        assert final_fingerprint(postgres_url, run_id)[0] == 0
        assert main(["runs", "recover", "--db", postgres_url]) == 0
        assert store.run(run_id).status == "FAILED"
        store.end_sessions(run_id)  # what restart does first; the trigger can go after it
        with _admin(postgres_url) as c:
            c.execute(sa.text("DROP TRIGGER held ON customer_account"))
        summary = restart_run(run_id, postgres_url)
        assert (summary.status, summary.reconciliation["passed"]) == ("COMPLETED", True)
        assert final_fingerprint(postgres_url, run_id)[0] == 3_000
        store.close()


def _sleeping(db_url: str) -> bool:
    """Is a session of the database in pg_sleep (the test trigger holding promotion)?"""
    with _admin(db_url) as c:
        return bool(c.execute(sa.text("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE wait_event = 'PgSleep'")).scalar_one())


class TestUnstableFiles:
    @pytest.mark.parametrize("change, word", [("append", "changed"), ("delete", "disappeared")])
    def test_file_changed_or_gone_while_read(self, tmp_path, change, word):
        """A file appended to or deleted while it is read fails the run with exit 66."""
        db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 200_000)

        def meddle() -> None:
            wait_for_commits(db, 2)
            if change == "append":
                with open(path, "ab") as f:
                    f.write(b"\x40" * 100)
            else:
                os.unlink(path)

        thread = threading.Thread(target=meddle, daemon=True)
        thread.start()
        summary = load_file(config(path, db))
        thread.join(30)
        assert (summary.status, summary.exit_code) == ("FAILED", 66)
        assert word in summary.message

    @pytest.mark.parametrize("target", ["locked/in.dat", "locked/*.dat"])
    def test_directory_without_permission_exits_66(self, tmp_path, target):
        """A file (or glob) in a directory the launcher may not read: exit 66, named. Root
        reads anything, so the launcher runs without the capabilities that let it."""
        setpriv = shutil.which("setpriv")
        if setpriv is None and os.geteuid() == 0:
            pytest.skip("setpriv (util-linux) is needed to drop root's read-anything rights")
        locked = tmp_path / "locked"
        locked.mkdir()
        keyed_file(locked / "in.dat", 10)
        locked.chmod(0)
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"] \
            if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, sys.executable, "-c", CLI, "run", "--input", str(tmp_path / target),
             *RUN_ARGS, "--db", f"sqlite:///{tmp_path / 'x.db'}"],
            capture_output=True, text=True, timeout=60, check=False)
        locked.chmod(0o700)
        assert result.returncode == 66, result.stderr
        assert "permission denied" in result.stdout + result.stderr or (
            "no file matches" in result.stderr)


def test_an_input_truncated_while_read_is_66(tmp_path):
    """A file cut short while the processors map it (a transfer still writing it) ends the
    run FAILED with 66, naming the file, not 70 for a processor killed by SIGBUS."""
    db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    path = keyed_file(tmp_path / "in.dat", 300_000)
    process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records",
                        "5000", "--processors", "2", "--json"], tmp_path)
    wait_for_commits(db, 1)
    os.truncate(path, 100 * 20_000)
    out, err = process.communicate(timeout=120)
    summary = last_json(out)
    assert process.returncode == 66, (summary, err[-2000:])
    assert "changed while it was read" in summary["message"]


def test_sigterm_during_publication_stops_with_nothing_published(tmp_path):
    """SIGTERM while the run publishes (Airflow's timeout can come at any phase): the
    promotion is cancelled, the final table is unchanged, the launcher exits 143 with its
    summary and the run STOPPED; a restart then publishes every record once."""
    db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    path = keyed_file(tmp_path / "in.dat", 400_000)
    process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records",
                        "50000", "--json"], tmp_path)
    wait_for_commits(db, 8)
    time.sleep(0.3)  # the promotion has begun
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    summary = last_json(out)
    assert process.returncode == 143, (summary, err[-2000:])
    assert "stopped during publication" in summary["message"]
    engine = sa.create_engine(db)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT status FROM mfp_run")).scalar_one() == "STOPPED"
        assert c.execute(sa.text("SELECT COUNT(*) FROM customer_account")).scalar_one() == 0
    engine.dispose()
    restarted = subprocess.run([sys.executable, "-c", CLI, "restart", summary["run_id"],
                                "--db", db, "--json"], capture_output=True, text=True,
                               cwd=tmp_path, timeout=300)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert last_json(restarted.stdout)["counts"]["final"] == 400_000


def test_runs_cancel_during_publication_stops_it(tmp_path, postgres_url):
    """`runs cancel` while the run publishes stops it (143, STOPPED, nothing published)
    instead of saying "asked to stop" and completing it anyway. (On SQLite the publishing
    transaction holds the database's write lock, so a cancel waits for it and then says
    the run ended meanwhile.)"""
    db = postgres_url
    path = keyed_file(tmp_path / "in.dat", 600_000)
    process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records",
                        "50000", "--json"], tmp_path)
    wait_for_commits(db, 12)
    engine = RunStore(db).engine
    with engine.connect() as c:
        run_id = c.execute(sa.text("SELECT run_id FROM mfp_run")).scalar_one()
    cancel = subprocess.run([sys.executable, "-c", CLI, "runs", "cancel", run_id, "--db", db],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert cancel.returncode == 0, cancel.stderr
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, (out[-2000:], err[-2000:])
    assert "stopped during publication" in last_json(out)["message"]
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT status FROM mfp_run")).scalar_one() == "STOPPED"
        assert c.execute(sa.text("SELECT COUNT(*) FROM customer_account")).scalar_one() == 0
    engine.dispose()


def test_no_process_outlives_a_launcher_killed_while_publishing(tmp_path):
    """SIGKILL of the launcher while it publishes on SQLite (the staging side measured in a
    process of its own): every process it started is gone within seconds."""
    db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    path = keyed_file(tmp_path / "in.dat", 400_000)
    process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records",
                        "50000", "--json"], tmp_path)
    wait_for_commits(db, 8)
    time.sleep(0.5)  # publishing: the staging side's process is at work
    children = descendants_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)  # not communicate(): a process left behind holds its pipes
    wait_gone(children)


class TestDatabaseGoesAway:
    """The launcher's own statements (heartbeat, status, counts, publication) wait for a
    database that restarts, as the writers do; an outage longer than the retries ends the
    launch with 75, its summary and a restartable run, and every record lands once."""

    def test_immediate_restarts_during_load_and_publication(self, tmp_path, fault_cluster):
        """Two crash restarts of the server, one while chunks commit and one while the run
        publishes: the run completes (or, past its retries, exits 75 and a restart
        finishes it) with each record in the final table once."""
        path = keyed_file(tmp_path / "in.dat", 600_000)
        db = fault_cluster.url
        process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records",
                            "20000", "--json"], tmp_path)
        wait_for_commits(db, 5)
        fault_cluster.restart_now()
        if _loaded_or_ended(process, db, 30):  # still running: now restart it publishing
            time.sleep(0.5)
            fault_cluster.restart_now()
        out, err = process.communicate(timeout=300)
        summary = last_json(out)
        assert process.returncode in (0, 75), (summary.get("message"), err[-3000:])
        if process.returncode == 75:
            assert summary["run_id"] and "database unavailable" in summary["message"]
            assert main_json(["restart", summary["run_id"], "--db", db], tmp_path)[0] == 0
        assert final_fingerprint(db, summary["run_id"]) == file_fingerprint(path)

    @pytest.mark.parametrize("fault, heal, said", [
        (FaultCluster.stop_now, FaultCluster.start, "database unavailable"),
        (lambda c: c.read_only(True), lambda c: c.read_only(False), "read-only transaction"),
    ], ids=["outage", "read-only"])
    def test_a_fault_longer_than_the_retries(self, tmp_path, fault_cluster, fault, heal, said):
        """The server stops for good, or turns read-only (a failover), mid-load: exit 75 with
        a summary naming the run (not 70); once it is back, the relaunch resumes that run
        and loads each record once."""
        path = keyed_file(tmp_path / "in.dat", 600_000)
        db = fault_cluster.url
        args = ["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records", "20000",
                "--retry-seconds", "3", "--heartbeat-ttl", "5"]
        process = launcher([*args, "--json"], tmp_path)
        wait_for_commits(db, 5)
        fault(fault_cluster)
        out, err = process.communicate(timeout=120)
        summary = last_json(out)
        assert process.returncode == 75, (summary, err[-3000:])
        assert summary["run_id"] and said in summary["message"]
        heal(fault_cluster)
        time.sleep(6)  # past the heartbeat TTL: the stopped launcher's run is recoverable
        code, again = main_json(args, tmp_path)
        assert code == 0 and again["run_id"] == summary["run_id"], again
        assert final_fingerprint(db, again["run_id"]) == file_fingerprint(path)


def _loaded_or_ended(process: subprocess.Popen, db: str, chunks: int,
                     timeout: float = 120) -> bool:
    """Wait until the ledger holds ``chunks`` chunks (True) or the launcher has ended
    (False: it gave up with its own exit code, which the test then checks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(Exception):
            engine = RunStore(db).engine
            with engine.connect() as c:
                done = c.execute(sa.text("SELECT count(*) FROM mfp_chunk")).scalar_one()
            engine.dispose()
            if done >= chunks:
                return True
        time.sleep(0.1)
    return process.poll() is None


def test_a_full_disk_is_named_and_temporary(tmp_path, capsys):
    """SQLite on a filesystem that fills up: the run says "database or disk is full" (not
    "cannot rollback"), exits 75 after its retries, and nothing half-written is loaded."""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(small)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        path = keyed_file(tmp_path / "in.dat", 50_000)
        db = f"sqlite:///{small / 'mfpipe.db'}"
        code, summary = main_json(["run", "--input", path, *RUN_ARGS, "--db", db,
                                   "--retry-seconds", "2"], tmp_path)
        assert code == 75, summary
        assert "database or disk is full" in summary["message"]
        assert summary["counts"]["loaded"] == 0
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


_HOLD = """import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_sqlite_lock_held_past_the_retries(tmp_path):
    """Another process holds the SQLite file locked mid-load for longer than the busy
    timeout (60 s) and the retries: exit 75 saying "database is locked" with a summary
    naming the run (not 70); once the lock is gone, the relaunch resumes that run and loads
    each record once."""
    path = keyed_file(tmp_path / "in.dat", 400_000)
    db = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    args = ["run", "--input", path, *RUN_ARGS, "--db", db, "--chunk-records", "2000",
            "--retry-seconds", "3", "--heartbeat-ttl", "5"]
    process = launcher([*args, "--json"], tmp_path)
    wait_for_commits(db, 5)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path / "mfpipe.db"), "70"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    children = descendants_of(process.pid)
    out, err = process.communicate(timeout=200)
    summary = last_json(out)
    assert process.returncode == 75, (summary, err[-3000:])
    assert summary["run_id"] and "database is locked" in summary["message"]
    wait_gone(children)
    holder.wait(timeout=120)
    time.sleep(6)  # past the heartbeat TTL: the stopped launcher's run is recoverable
    code, again = main_json(args, tmp_path)
    assert code == 0 and again["run_id"] == summary["run_id"], again
    assert final_fingerprint(db, again["run_id"]) == file_fingerprint(path)
