"""The Dask executor on real clusters: a LocalCluster of worker processes, real databases."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from mfpipe.cli import main
from mfpipe.cli.demo import DEMO_LAYOUT
from mfpipe.db.explorer import ChunkRecord
from mfpipe.framing import ChunkSpan
from mfpipe.pipeline.tasks import SpanTask
from tests.support import query, wait_for_commits

distributed = pytest.importorskip("distributed")

LAYOUT = str(DEMO_LAYOUT)
ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--chunk-records", "500",
        "--max-errors", "0", "--json"]
# every staging column but worker_id (the executors name their workers differently)
COLUMNS = ("chunk_id, record_no, cust_id, cust_name, branch_code, acct_type, open_date, "
           "balance, credit_limit, interest_rate, txn_count, last_txn_amount, status_code, "
           "risk_score, bonus_points")
LEDGER = ("chunk_id, byte_offset, byte_length, first_record_no, last_record_no, rows_loaded, "
          "rows_rejected, content_hash, totals")
REJECTS = "record_no, byte_offset, field, column_name, field_offset, reason, raw_hex"


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    """Two single-threaded worker processes, as `dask scheduler` and `dask worker` give."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def run(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*args])
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def sample(tmp_path, recfm: str, records: int = 6_000, *blocks: str) -> str:
    path = str(tmp_path / f"in.{recfm.lower()}")
    assert main(["gen", LAYOUT, "-o", path, "--records", str(records), "--recfm", recfm,
                 *blocks, "--bad", "4", "--seed", "3", "--date", "open_date=YYYYMMDD"]) == 0
    return path


def framing(recfm: str) -> list[str]:
    return ["--recfm", recfm] if recfm != "FB" else []


@pytest.mark.parametrize("recfm, blocks, window", [
    ("FB", (), ()), ("VB", (), ()),
    # chunks of whole BDW blocks; a window that cuts the first and last chunks inside blocks
    ("VB", ("--bdw",), ("--skip-records", "1234", "--load-records", "3003"))],
    ids=["FB", "VB", "VB-bdw-window"])
def test_same_rows_rejects_and_ledger_as_the_local_executor(tmp_path, db_url, cluster, recfm,
                                                            blocks, window):
    """The same file loaded by the local engine and on the cluster (into tables of their
    own), each task there framing its chunk's span by itself, gives the same staging rows,
    rejects, ledger and final rows, and both reconcile; the cluster's rows name its two
    workers."""
    path = sample(tmp_path, recfm, 6_000, *blocks)
    common = ["run", "--input", path, "--db", db_url, *ARGS, *framing(recfm), *blocks,
              *window, "--max-errors", "10"]
    code, local = run(*common)
    assert code == 0, local
    code, on_cluster = run(*common, "--executor", "dask", "--scheduler",
                           cluster.scheduler_address, "--job", "dask",
                           "--final-table", "customer_dask", "--staging-table", "stg_dask")
    assert code == 0 and on_cluster["reconciliation"]["passed"], on_cluster
    assert on_cluster["counts"] == {**local["counts"], "per_worker": on_cluster["counts"][
        "per_worker"]}

    def rows(sql: str, run_id: str) -> list[tuple]:
        return sorted(query(db_url, sql.format(run=run_id)))

    for sql in (f"SELECT {COLUMNS} FROM {{table}} WHERE run_id = '{{run}}'",):
        assert rows(sql.replace("{table}", "stg_customer_account"), local["run_id"]) == rows(
            sql.replace("{table}", "stg_dask"), on_cluster["run_id"])
    for sql in (f"SELECT {LEDGER} FROM mfp_chunk WHERE run_id = '{{run}}'",
                f"SELECT {REJECTS} FROM mfp_reject WHERE run_id = '{{run}}'"):
        assert rows(sql, local["run_id"]) == rows(sql, on_cluster["run_id"])
    columns = COLUMNS.split(", ", 2)[2]
    assert rows(f"SELECT {columns} FROM customer_account", "") == rows(
        f"SELECT {columns} FROM customer_dask", "")
    workers = {w for (w,) in query(db_url, f"SELECT DISTINCT worker_id FROM stg_dask WHERE "
                                           f"run_id = '{on_cluster['run_id']}'")}
    assert workers == {1, 2} and set(on_cluster["counts"]["per_worker"]) == {"1", "2"}


def span_task(chunk: ChunkRecord) -> SpanTask:
    """The task of a chunk as its ledger row has it (a whole chunk: no window)."""
    records = chunk.last_record_no - chunk.first_record_no + 1
    return SpanTask(ChunkSpan(chunk.chunk_id, chunk.first_record_no, chunk.byte_offset,
                              chunk.byte_length, records), 0, records)


def test_a_task_run_again_commits_nothing(tmp_path, cluster):
    """Each chunk's task run again (Dask's retry after a worker lost past its commit, a
    copy) finds the chunk in the ledger and commits nothing: the rows stay once; it still
    reports its rejected records' bytes, which the task that committed may not have."""
    from mfpipe.db.runs import RunStore
    from mfpipe.pipeline.cluster import forget, load_chunk
    from mfpipe.pipeline.spec import spec_from_options

    db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    code, summary = run("run", "--input", sample(tmp_path, "FB", 2_000), "--db", db_url,
                        *ARGS, "--max-errors", "10", "--executor", "dask", "--scheduler",
                        cluster.scheduler_address)
    assert code == 0, summary
    store = RunStore(db_url)
    run_row = store.run(summary["run_id"])
    chunks = store.ledger(summary["run_id"])
    store.close()
    config = spec_from_options(run_row.options, db_url)
    launch = f"again-{summary['run_id']}"
    with distributed.Client(cluster) as client:
        again = client.gather([client.submit(
            load_chunk, span_task(chunk), config.decode_work(), config.write_work(),
            "stg_customer_account", launch, pure=False) for chunk in chunks])
        client.run(forget, launch)
    assert not any(a.by_this_task for a in again)
    assert [a.committed.loaded for a in again] == [c.rows_loaded for c in chunks]
    assert query(db_url, "SELECT count(*) FROM stg_customer_account") == [(1_996,)]
    bad = open(summary["bad_file"], "rb").read()
    reported = [a.bad_bytes for a in again if a.bad_bytes]
    assert len(reported) == sum(c.rows_rejected > 0 for c in chunks) > 0
    assert all(part in bad for part in reported) and sum(map(len, reported)) == len(bad)


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, db_url):
    """A worker process SIGKILLed after a few commits: Dask runs its tasks elsewhere, and
    the run completes with every record once."""
    path = sample(tmp_path, "FB", 20_000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, \
            distributed.Client(local) as client:
        pids = client.run(os.getpid)
        outcome: dict = {}

        def launch() -> None:
            outcome["result"] = run("run", "--input", path, "--db", db_url, *ARGS,
                                    "--max-errors", "10", "--chunk-records", "250",
                                    "--executor", "dask", "--scheduler",
                                    local.scheduler_address)

        thread = threading.Thread(target=launch)
        thread.start()
        wait_for_commits(db_url, 5)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        thread.join(timeout=180)
    code, summary = outcome["result"]
    assert code == 0 and summary["reconciliation"]["passed"], summary
    assert summary["counts"]["read"] == 20_000 and summary["counts"]["chunks_committed"] == 80
    assert query(db_url, "SELECT count(*), count(DISTINCT record_no) FROM "
                         "stg_customer_account") == [(19_996, 19_996)]


def test_without_a_scheduler_a_local_cluster_runs_the_job(tmp_path):
    """`[pipeline] executor = "dask"` in a job file, no scheduler: a local cluster of
    --processors workers loads it."""
    job = tmp_path / "job.toml"
    job.write_text(f'[source]\nlayout = "{LAYOUT}"\npath = "{sample(tmp_path, "FB", 1_000)}"\n'
                   f'dates = {{open_date = "YYYYMMDD"}}\n'
                   f'[target]\ndb = "sqlite:///{tmp_path / "mfpipe.db"}"\n'
                   '[pipeline]\nexecutor = "dask"\nprocessors = 2\nmax_errors = 10\n')
    started = time.monotonic()
    code, summary = run("run", str(job), "--json")
    assert code == 0 and summary["reconciliation"]["passed"], summary
    assert summary["counts"]["loaded"] == 996 and time.monotonic() - started < 120


def test_a_glob_of_files_shares_one_local_cluster(tmp_path, monkeypatch):
    """Three files by a glob, two at a time, on `--executor dask` without a scheduler: one
    local cluster for the launch (not one a file), each file its own run, loaded once and
    reconciled; the next launch finds them loaded (99); a restart never looks for the
    launch's cluster, gone with it."""
    from mfpipe.pipeline import cluster as executor

    db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    for day in range(3):
        assert main(["gen", LAYOUT, "-o", str(tmp_path / f"day{day}.dat"), "--records",
                     str(1_000 + day), "--seed", str(day), "--bad", "1", "--date",
                     "open_date=YYYYMMDD"]) == 0
    started = []
    monkeypatch.setattr(distributed, "LocalCluster", spy(distributed.LocalCluster, started))
    launch = ["run", "--input", str(tmp_path / "day*.dat"), "--db", db_url, *ARGS,
              "--max-errors", "10", "--parallel-files", "2", "--executor", "dask"]
    code, summary = run(*launch)
    assert code == 0 and len(started) == 1 and not executor._LAUNCH_CLUSTER, summary
    assert sorted(r["counts"]["loaded"] for r in summary["runs"]) == [999, 1_000, 1_001]
    assert all(r["reconciliation"]["passed"] for r in summary["runs"]), summary
    assert query(db_url, "SELECT count(*), count(DISTINCT last_run_id) FROM "
                         "customer_account") == [(3_000, 3)]
    assert run(*launch)[0] == 99
    (options,) = query(db_url, "SELECT options FROM mfp_run LIMIT 1")
    assert json.loads(options[0])["execution"]["scheduler"] is None


def test_a_launchs_cluster_closes_once_its_last_run_is_done():
    """The cluster a launch shares closes as soon as its last run is done with it (one
    that loaded through it, one that never connected: a file skipped), not at the
    launch's end."""
    from mfpipe.pipeline import cluster as executor

    with executor.shared_local_cluster("dask", None, 1, 2):
        shared = executor._LAUNCH_CLUSTER[0]
        with executor.launch_run():
            with executor._client(None, 1) as client:
                assert client.submit(sum, [1, 2]).result() == 3
        assert shared._closed is None
        with executor.launch_run():
            pass
        shared._closed.result(timeout=60)
        assert shared._started.result().status.name == "closed"


def test_a_cluster_that_cannot_start_is_each_runs_error(monkeypatch):
    from mfpipe.errors import ConfigError
    from mfpipe.pipeline import cluster as executor

    def broken(workers: int) -> None:
        raise ConfigError("--executor dask needs Dask: pip install 'mfpipe[dask]'")

    monkeypatch.setattr(executor, "_start_local_cluster", broken)
    with executor.shared_local_cluster("dask", None, 2, 2):
        for _ in range(2):
            with executor.launch_run(), pytest.raises(ConfigError, match="needs Dask"):
                with executor._client(None, 2):
                    pass


def spy(cls: type, made: list) -> type:
    """``cls``, noting each instance made."""
    class Spied(cls):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)
    return Spied


@contextlib.contextmanager
def dask_command_line(tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A scheduler and two single-threaded workers started with the `dask` command line, as
    a cluster user starts them, the workers with a spool folder of their own (as on other
    hosts: ``tmp_path / "worker-spool"``); the scheduler's address and process."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    address = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "dask.log", "w")
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=log, stderr=log)
    (tmp_path / "worker-spool").mkdir()
    workers = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "2",
                                "--no-dashboard"], stdout=log, stderr=log,
                               env={**os.environ, "MFPIPE_SPOOL": str(tmp_path / "worker-spool")})
    try:
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, scheduler
    finally:
        for process in (workers, scheduler):
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)
        log.close()


def test_a_compressed_input_leaves_no_spool_on_the_workers(tmp_path, monkeypatch):
    """A gzip input on a cluster whose workers decompress it into spools of their own: the
    run completes, and no spool is left, on the workers' hosts or the launcher's."""
    import gzip
    import shutil

    path = sample(tmp_path, "FB", 3_000)
    with open(path, "rb") as plain, gzip.open(path + ".gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    (tmp_path / "launcher-spool").mkdir()
    monkeypatch.setenv("MFPIPE_SPOOL", str(tmp_path / "launcher-spool"))
    with dask_command_line(tmp_path) as (address, _):
        code, summary = run("run", "--input", path + ".gz", "--db",
                            f"sqlite:///{tmp_path / 'mfpipe.db'}", *ARGS, "--max-errors", "10",
                            "--executor", "dask", "--scheduler", address)
        assert code == 0 and summary["counts"]["loaded"] == 2_996, summary
        assert not list((tmp_path / "worker-spool").iterdir())
    assert not list((tmp_path / "launcher-spool").iterdir())


def test_tasks_read_their_byte_ranges_from_an_object_store(tmp_path, object_store,
                                                          monkeypatch):
    """A VB file with BDW blocks in an S3 bucket, on a command-line cluster: the launcher
    plans it from its copy, each task reads only its chunk's bytes from the store (no copy
    on the workers' hosts); the ledger is the local file's, and no copy is left."""
    path = sample(tmp_path, "VB", 4_000, "--bdw")
    url = object_store.put(f"cluster-{os.getpid()}/in.vb", open(path, "rb").read())
    (tmp_path / "launcher-spool").mkdir()
    monkeypatch.setenv("MFPIPE_SPOOL", str(tmp_path / "launcher-spool"))
    db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    common = ["--db", db_url, *ARGS, *framing("VB"), "--bdw", "--max-errors", "10",
              "--bad-file", str(tmp_path)]
    with dask_command_line(tmp_path) as (address, _):
        code, summary = run("run", "--input", url, *common, "--executor", "dask",
                            "--scheduler", address)
        assert code == 0 and summary["reconciliation"]["passed"], summary
        assert not list((tmp_path / "worker-spool").iterdir())
    assert not list((tmp_path / "launcher-spool").iterdir())
    code, local = run("run", "--input", path, *common, "--job", "disk", "--final-table",
                      "from_disk", "--staging-table", "stg_from_disk")
    assert code == 0 and local["counts"]["loaded"] == summary["counts"]["loaded"], local
    ledger = f"SELECT {LEDGER} FROM mfp_chunk WHERE run_id = '{{}}' ORDER BY chunk_id"
    assert query(db_url, ledger.format(summary["run_id"])) == query(
        db_url, ledger.format(local["run_id"]))


def test_a_job_against_a_command_line_cluster_and_its_scheduler_killed(tmp_path, db_url):
    """A job file run with `--executor dask --scheduler tcp://...` against `dask scheduler`
    and `dask worker` processes completes; the same with the scheduler SIGKILLed mid-run
    ends FAILED (70) within seconds, and `restart` on the local executor then completes it
    with every record once."""
    path = sample(tmp_path, "FB", 20_000)
    job = tmp_path / "job.toml"
    job.write_text(f'[source]\nlayout = "{LAYOUT}"\npath = "{path}"\n'
                   'dates = {open_date = "YYYYMMDD"}\n'
                   '[pipeline]\nexecutor = "dask"\nmax_errors = 10\nchunk_records = 250\n')
    with dask_command_line(tmp_path) as (address, scheduler):
        code, summary = run("run", str(job), "--scheduler", address, "--db", db_url, "--json")
        assert code == 0 and summary["reconciliation"]["passed"], summary
        outcome: dict = {}
        second = str(tmp_path / "again.dat")
        assert main(["gen", LAYOUT, "-o", second, "--records", "20000", "--bad", "4",
                     "--seed", "4", "--date", "open_date=YYYYMMDD"]) == 0

        def launch() -> None:
            outcome["result"] = run("run", str(job), "--input", second, "--scheduler", address,
                                    "--db", db_url, "--json")
            outcome["ended"] = time.monotonic()

        thread = threading.Thread(target=launch)
        thread.start()
        wait_for_commits(db_url, 80 + 5)
        scheduler.kill()
        killed = time.monotonic()
        thread.join(timeout=120)
    code, summary = outcome["result"]
    assert (code, summary["status"]) == (70, "FAILED"), summary
    assert outcome["ended"] - killed < 30
    code, gone = run("restart", summary["run_id"], "--db", db_url, "--json")
    assert code == 75 and "MFP-5004" in gone["message"], gone  # its scheduler is gone
    code, restarted = run("restart", summary["run_id"], "--db", db_url, "--executor", "local",
                          "--json")
    assert code == 0 and restarted["reconciliation"]["passed"], restarted
    assert query(db_url, f"SELECT count(*), count(DISTINCT record_no) FROM stg_customer_account "
                         f"WHERE run_id = '{summary['run_id']}'") == [(19_996, 19_996)]


def test_two_copies_of_a_task_racing_commit_once(tmp_path, db_url, cluster):
    """Two copies of one chunk's task on two workers at once (a worker thought lost, still
    running): one commits, the other rolls back and finds the chunk committed."""
    from mfpipe.db.runs import RunStore
    from mfpipe.pipeline.cluster import forget, load_chunk
    from mfpipe.pipeline.spec import spec_from_options

    code, summary = run("run", "--input", sample(tmp_path, "FB", 2_000), "--db", db_url,
                        *ARGS, "--max-errors", "10", "--executor", "dask", "--scheduler",
                        cluster.scheduler_address)
    assert code == 0, summary
    run_id = summary["run_id"]
    store = RunStore(db_url)
    run_row = store.run(run_id)
    chunk = store.ledger(run_id)[2]
    with store.engine.begin() as c:  # as if its first commit had never happened
        for table in ("stg_customer_account", "mfp_reject", "mfp_chunk"):
            c.execute(sa.text(f"DELETE FROM {table} WHERE run_id = :r AND chunk_id = :c"),
                      {"r": run_id, "c": chunk.chunk_id})
    store.close()
    config = spec_from_options(run_row.options, db_url)
    task = span_task(chunk)
    with distributed.Client(cluster) as client:
        workers = sorted(client.scheduler_info()["workers"])
        copies = [client.submit(load_chunk, task, config.decode_work(), config.write_work(),
                                "stg_customer_account", f"copies-{run_id}", pure=False,
                                workers=[w])
                  for w in workers]
        outcomes = client.gather(copies)
        client.run(forget, f"copies-{run_id}")
    assert sorted(o.by_this_task for o in outcomes) == [False, True]
    assert query(db_url, f"SELECT count(*), count(DISTINCT record_no) FROM stg_customer_account "
                         f"WHERE chunk_id = {chunk.chunk_id}") == [(chunk.rows_loaded,) * 2]
    assert query(db_url, f"SELECT count(*) FROM mfp_chunk WHERE chunk_id = {chunk.chunk_id}"
                 ) == [(1,)]


def test_a_chunk_failing_its_proof_on_a_worker_fails_the_run(tmp_path, db_url, cluster):
    """A staging trigger changing an amount as a worker's chunk is written: that chunk's
    proof fails on the worker, the run ends 65 naming it with nothing of the chunk
    committed, and once the trigger is gone a restart on the cluster completes it."""
    from mfpipe.jobs.restart import restart_run
    from tests.recon.test_tamper_in_run import STAGING, drop_trigger, failed_run

    store, loaded = failed_run(tmp_path, db_url, STAGING, "balance", "{row}balance + 0.01",
                               "{row}record_no = 2500", executor="dask",
                               scheduler=cluster.scheduler_address)
    assert "MFP-5003 chunk 2 (worker " in loaded.summary.message
    run_id = loaded.summary.run_id
    assert query(db_url, f"SELECT count(*) FROM mfp_chunk WHERE run_id = '{run_id}' AND "
                         "chunk_id = 2") == [(0,)]
    drop_trigger(store, STAGING)
    again = restart_run(run_id, db_url)
    assert (again.status, again.exit_code) == ("COMPLETED", 0), again.message
    assert query(db_url, f"SELECT count(*), count(DISTINCT record_no) FROM {STAGING} WHERE "
                         f"run_id = '{run_id}'") == [(6_000, 6_000)]
    store.close()


def test_ctrl_c_stops_at_a_chunk_boundary_and_a_restart_completes(tmp_path):
    """SIGINT to the launcher's whole process group (Ctrl-C at a terminal) reaches the local
    cluster's workers too: they ignore it, the run stops at a chunk boundary (143), and a
    restart loads the missing chunks once."""
    db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    path = sample(tmp_path, "FB", 60_000)
    process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "mfpipe"), "run",
                                "--input", path, "--db", db_url, *ARGS, "--max-errors", "10",
                                "--executor", "dask"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    wait_for_commits(db_url, 5)
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    stopped = json.loads(out.strip().splitlines()[-1])
    assert (process.returncode, stopped["status"]) == (143, "STOPPED"), stopped
    code, restarted = run("restart", stopped["run_id"], "--db", db_url, "--json")
    assert code == 0 and restarted["reconciliation"]["passed"], restarted
    assert query(db_url, "SELECT count(*), count(DISTINCT record_no) FROM "
                         "stg_customer_account") == [(59_996, 59_996)]


@pytest.mark.parametrize("options, message", [
    (["--scheduler", "bogus://nowhere"], "is not a Dask scheduler's address"),
    (["--direct-path"], "--direct-path cannot run with --executor dask"),
])
def test_what_a_cluster_cannot_do_is_refused_with_78(tmp_path, capsys, options, message):
    code = main(["run", "--input", sample(tmp_path, "FB", 100), "--db",
                 f"sqlite:///{tmp_path / 'mfpipe.db'}", *ARGS, "--executor", "dask", *options])
    assert code == 78 and message in capsys.readouterr().err
