"""The Dask executor (``--executor dask``): the local engine's chunk tasks, on a cluster.

The launcher plans the file with the local engine's reader: each chunk's entry in the
file's sparse index (byte range, first record, record count; never where each record
starts, never record bytes), one task per chunk missing from the ledger, never more than a
few per worker at a time, so the launcher's and the scheduler's memory stay bounded
whatever the file's size. A task (:func:`load_chunk`) runs on a worker process: it reads
its chunk's byte range (:class:`ByteRanges`), frames it again by itself and checks it
holds the records planned, decodes it with the decode plan compiled once per worker,
exactly as a processor does, and commits the chunk's staging rows, proof, rejects and
ledger row in one transaction with the loader a local writer uses. It returns counts (and
the few rejected records' bytes for the bad file), never rows.

Exactly once under Dask's own retries (a worker lost after a commit, a task run twice): a
task whose chunk is in the ledger commits nothing, and of two copies racing on one chunk
only one ledger row can commit (the ledger's key); the other rolls back and finds the chunk
committed. The workers keep a launch's state (plan, open input, connections) under a token
of that attempt, and a task left over from an ended attempt commits nothing; the tasks still
running when a run ends are waited for and counted before the workers forget it. The
launcher's supervision is the local engine's (:meth:`Engine.watch`: error limit, stop,
heartbeat, ``runs cancel``); a task's error, or a cluster that goes away, ends the run
FAILED, restartable on either executor.

Without ``--scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``) a ``LocalCluster`` of
``--processors`` single-threaded worker processes runs the tasks. Worker ids in staging are
the Dask workers' names: ``n + 1`` for a local cluster's worker ``n``, otherwise a number
derived from the name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from mfpipe.codec import DecodePlan
from mfpipe.codec.segments import ParentLink
from mfpipe.db.loaders import BulkLoader, class_of
from mfpipe.db.probe import ChunkProbe
from mfpipe.db.runs import RunStore
from mfpipe.db.status import FAILED, LOADED
from mfpipe.errors import (EXIT_INTERNAL, ClusterUnavailableError, ConfigError, LoadError,
                           MfpipeError, RunError)
from mfpipe.framing import reframe
from mfpipe.pipeline.kept import Kept
from mfpipe.pipeline.metrics import MetricsAggregator
from mfpipe.pipeline.processor import process_chunk
from mfpipe.pipeline.reader import Reader
from mfpipe.pipeline.source import ByteRanges, release_spool
from mfpipe.pipeline.spec import DecodeWork, WriteWork
from mfpipe.pipeline.tasks import Committed, SpanTask
from mfpipe.pipeline.writer import commit_with_retry, in_ledger

if TYPE_CHECKING:
    from mfpipe.pipeline.engine import Engine, Watch

# what the client raises when the scheduler goes away: its connection closed (an OSError),
# the futures it held cancelled, a call timed out
_CLUSTER_GONE = (OSError, CancelledError, asyncio.CancelledError, TimeoutError)
POLL_S = 0.2
TASKS_PER_WORKER = 2  # submitted ahead of the workers, so none waits for the launcher
CLUSTER_GONE_S = 10.0  # a scheduler not answering for this long ends the run
GRACE_S = 30.0  # how long the tasks still running when a run ends are waited for


class ChunkOutcome(NamedTuple):
    """What a task reports: the chunk as the ledger holds it, and whether this task
    committed it (or found it committed already)."""

    chunk_id: int
    committed: Committed
    byte_length: int
    by_this_task: bool
    bad_bytes: bytes = b""
    discard_bytes: bytes = b""
    busy_s: float = 0.0
    cpu_s: float = 0.0


def supervise_on_cluster(engine: Engine, store: RunStore, staging: str, plan: DecodePlan,
                         probe: ChunkProbe | None
                         ) -> tuple[str, int, str, Reader, dict[int, dict[str, float]], float]:
    """:meth:`Engine._supervise` on a Dask cluster: the same outcome and counts."""
    from mfpipe.pipeline.engine import Watch

    config = engine.config
    metrics = engine.metrics({})  # a Manager cannot span hosts: the tasks report counts
    abort = threading.Event()
    tasks: queue.Queue[SpanTask | None] = queue.Queue(maxsize=1)
    reader = Reader(config, plan, tasks, lambda: engine.stop_asked, abort, store,
                    sparse=True)
    engine.start_progress(store)
    cpu = [0.0]
    write = config.write_work(probe)
    running: set[Any] = set()
    launch = f"{config.run_id}-{uuid.uuid4().hex[:8]}"  # this attempt's tasks and state
    outcome: tuple[str, int, str] = (FAILED, EXIT_INTERNAL, "")
    try:
        with engine.supervising(), _client(config.execution.scheduler,
                                           config.execution.processors) as client:
            engine.started(store, reader)
            try:
                outcome = _loop(engine, store, client, reader, tasks, staging, write, launch,
                                running, metrics, cpu, Watch())
            except _CLUSTER_GONE as exc:
                outcome = (FAILED, EXIT_INTERNAL, f"the Dask cluster went away "
                                                  f"({type(exc).__name__}: {exc}); the run is "
                                                  "restartable")
            finally:
                if client.status == "running":
                    with contextlib.suppress(*_CLUSTER_GONE):
                        try:
                            _settle(engine, client, running, write, metrics, cpu)
                        finally:  # also when a settled task's bytes could not be kept:
                            # connections and open files; a loaded file's spools (a failed
                            # attempt's stay for its restart, as the launcher's does)
                            client.run(forget, launch, outcome[0] == LOADED)
    except MfpipeError as exc:
        outcome = (FAILED, exc.exit_code, str(exc))
    finally:
        abort.set()
        if reader.ident is not None:  # started: the cluster answered
            reader.join(timeout=10)
        engine.progress.close()
    return (*outcome, reader, metrics.per_worker(), round(cpu[0], 3))


def _loop(engine: Engine, store: RunStore, client: Any, reader: Reader, tasks: queue.Queue,
          staging: str, write: WriteWork, launch: str, running: set[Any],
          metrics: MetricsAggregator, cpu: list[float], state: Watch) -> tuple[str, int, str]:
    """Submit the reader's tasks, never more than a few per worker ahead (``running``);
    take each outcome as it comes; end on the first error, a stop, or the last chunk."""
    from distributed import wait

    config = engine.config
    decode = config.decode_work()
    framed = False
    gone_since: float | None = None
    while True:
        limit = TASKS_PER_WORKER * max(len(client.scheduler_info().get("workers", {})), 1)
        while not framed and len(running) < limit and not state.stopping:
            try:
                task = tasks.get(timeout=0 if running else POLL_S)
            except queue.Empty:
                break
            if task is None:
                framed = True
                break
            # no retries of a task that raised: the loader retries what is transient, and
            # the rest (a chunk that fails its proof) fails again; a lost worker's tasks are
            # run elsewhere by the scheduler
            # the run's spec travels with each task (a few KB): a worker that joins late,
            # or replaces a lost one, has it too
            running.add(client.submit(load_chunk, task, decode, write, staging, launch,
                                      pure=False, key=f"mfpipe-{launch}-{task.chunk_id}"))
        done: set[Any] = set()
        if running:
            with contextlib.suppress(TimeoutError):  # nothing finished within the poll
                done, _ = wait(running, timeout=POLL_S, return_when="FIRST_COMPLETED")
        elif not framed:
            time.sleep(POLL_S)
        failure = None
        for future in done:  # every finished task is taken, even beside a failed one
            running.discard(future)
            if future.status == "finished":
                _take(engine, future.result(), write, metrics, cpu)
            else:
                failure = failure or _failed(future)
        if failure:
            return failure
        if client.status != "running":
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > CLUSTER_GONE_S:
                return FAILED, EXIT_INTERNAL, (f"the Dask cluster stopped answering "
                                               f"({client.status}); the run is restartable")
        else:
            gone_since = None
        outcome = engine.watch(store, reader, state)
        if outcome:
            return outcome
        if (framed or state.stopping) and not running:
            return engine.ended(reader, state)


def _settle(engine: Engine, client: Any, running: set[Any], write: WriteWork,
            metrics: MetricsAggregator, cpu: list[float]) -> None:
    """Tasks still running when the run ends (an error, the error limit): their commits
    are waited for, for a grace period, and counted; the others are cancelled. Only then
    may the workers forget the run (a task still running would lose its connection)."""
    from distributed import wait

    if not running:
        return
    with contextlib.suppress(TimeoutError):
        wait(running, timeout=GRACE_S)
    for future in running:
        if future.status == "finished":
            _take(engine, future.result(), write, metrics, cpu)
    client.cancel(list(running))
    running.clear()


def _take(engine: Engine, outcome: ChunkOutcome, write: WriteWork,
          metrics: MetricsAggregator, cpu: list[float]) -> None:
    """A task's outcome: its rejected and discarded records' bytes kept (again, for a copy
    of the task or a restart's replay: the same bytes), its commit counted once."""
    done = outcome.committed
    write.outputs.keep(outcome.chunk_id, Kept(done.rejected, outcome.bad_bytes),
                       Kept(done.discarded, outcome.discard_bytes))
    if outcome.chunk_id in engine.committed:  # a copy of the task reported it already
        return
    engine.commit(outcome.chunk_id, done, outcome.byte_length)
    metrics.add(done.worker_id, read=done.records, processed=done.loaded,
                rejected=done.rejected, discarded=done.discarded, written=done.loaded,
                batches=1, busy_s=outcome.busy_s)
    cpu[0] += outcome.cpu_s


def _failed(future: Any) -> tuple[str, int, str]:
    """The run's outcome when a task did not finish: its error's exit code (a chunk that
    failed its proof is 65, a database away 75), 70 for anything else."""
    try:
        error = future.exception(timeout=1)
    except _CLUSTER_GONE as exc:  # cancelled: the scheduler lost it
        error = exc
    if isinstance(error, MfpipeError):
        return FAILED, error.exit_code, f"{future.key}: {error}"
    return FAILED, EXIT_INTERNAL, (f"{future.key} {future.status}: {type(error).__name__}: "
                                   f"{error}; the run is restartable")


class _SharedCluster:
    """The local cluster a launch's runs share: started at once in a thread of its own, so
    that its start (the workers' processes and imports: 1-2 s) overlaps the launcher's own
    (checksum, claim, plan) instead of following it; closed in that thread as soon as the
    last of the launch's runs has loaded through it, so that its close overlaps that run's
    publication."""

    def __init__(self, workers: int, runs: int) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="mfpipe-cluster")
        self._started = self._thread.submit(_start_local_cluster, workers)
        self._runs, self._lock = runs, threading.Lock()
        self._closed: Future[None] | None = None

    def address(self) -> str:
        """The scheduler's address, once the cluster has started (its error if it failed)."""
        return str(self._started.result().scheduler_address)

    def loaded(self) -> None:
        """A run of the launch is done with the cluster; after the last, it closes."""
        with self._lock:
            self._runs -= 1
            if self._runs == 0:
                self._close_soon()

    def close(self) -> None:
        """Close it now unless closing already, and wait until it has closed."""
        with self._lock:
            self._close_soon()
        assert self._closed is not None
        self._closed.result()
        self._thread.shutdown()

    def _close_soon(self) -> None:
        if self._closed is None:
            self._closed = self._thread.submit(self._close)

    def _close(self) -> None:
        if self._started.exception() is None:  # a start that failed told the run needing it
            self._started.result().close()


_LAUNCH_CLUSTER: list[_SharedCluster] = []  # the local cluster a launch's runs share
_RUN = threading.local()  # in a launch's run's thread: is it still to say it is done?


@contextlib.contextmanager
def launch_run() -> Iterator[None]:
    """One run of a launch, in its thread: done with the launch's shared cluster once its
    load has ended, or once it has ended without loading (a file skipped, refused)."""
    _RUN.pending = True
    try:
        yield
    finally:
        _run_done()


def _run_done() -> None:
    if getattr(_RUN, "pending", False) and _LAUNCH_CLUSTER:
        _RUN.pending = False
        _LAUNCH_CLUSTER[0].loaded()


@contextlib.contextmanager
def shared_local_cluster(executor: str, scheduler: str | None, workers: int, runs: int
                         ) -> Iterator[None]:
    """While a launch of ``runs`` runs (files, segments) on ``--executor dask`` without a
    scheduler loads them: one local cluster of ``workers`` processes for all of them
    (:class:`_SharedCluster`), not one each. Its address is never stored with a run: a
    restart starts its own."""
    if executor != "dask" or scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS"):
        yield
        return
    shared = _SharedCluster(workers, runs)
    _LAUNCH_CLUSTER.append(shared)
    try:
        yield
    finally:
        _LAUNCH_CLUSTER.remove(shared)
        shared.close()


@contextlib.contextmanager
def _local_cluster(workers: int) -> Iterator[Any]:
    """A local cluster of ``workers`` processes, for one run (a restart)."""
    cluster = _start_local_cluster(workers)
    try:
        yield cluster
    finally:
        cluster.close()


def _start_local_cluster(workers: int) -> Any:
    """A local cluster of ``workers`` single-threaded processes. They ignore SIGINT and
    SIGTERM, as the local engine's processes do: a Ctrl-C at the terminal (sent to every
    process of the group) stops the run at a chunk boundary."""
    try:
        from distributed import LocalCluster
    except ImportError:
        raise ConfigError("--executor dask needs Dask: pip install 'mfpipe[dask]'") from None
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, preload=[__name__])


@contextlib.contextmanager
def _client(address: str | None, workers: int) -> Iterator[Any]:
    """A client of the scheduler at ``address`` (or ``$DASK_SCHEDULER_ADDRESS``, or the
    launch's shared local cluster), or of a local cluster of ``workers`` processes."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("--executor dask needs Dask: pip install 'mfpipe[dask]'") from None
    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    shared = None if address else next(iter(_LAUNCH_CLUSTER), None)
    if shared is not None:
        address = shared.address()
    if address:
        try:
            client = Client(address, timeout="10s")
        except ValueError as exc:  # not an address: tcp://host:port, tls://..., ...
            raise ConfigError(f"--scheduler {address!r} is not a Dask scheduler's address "
                              f"(e.g. tcp://10.0.0.5:8786): {exc}") from None
        except OSError as exc:
            raise ClusterUnavailableError(f"scheduler {address}: {exc}") from None
        try:
            with client:
                yield client
        finally:
            _run_done()  # its load has ended: the last run's closes the shared cluster
        return
    with _local_cluster(workers) as cluster, Client(cluster) as client:
        yield client


# -- on a worker ---------------------------------------------------------------------------


@dataclass
class _Worker:
    """What one worker process keeps for a run: the decode plan compiled once, the open
    input, a store for ledger lookups, and idle loaders (database connections), one per
    task running at once."""

    plan: DecodePlan
    source: ByteRanges
    files: contextlib.ExitStack
    store: RunStore
    worker_id: int
    link: ParentLink | None = None
    condition: Any = None
    prepare: Any = None
    idle: list[BulkLoader] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> BulkLoader | None:
        """An idle loader, or None (the commit opens one)."""
        with self.lock:
            return self.idle.pop() if self.idle else None

    def give(self, loader: BulkLoader) -> None:
        with self.lock:
            self.idle.append(loader)


_RUNS: dict[str, _Worker] = {}  # by launch, until its launcher says it ended (forget)
_ENDED: set[str] = set()  # launches ended: a task of theirs left over commits nothing
_RUNS_LOCK = threading.Lock()


def load_chunk(task: SpanTask, decode: DecodeWork, write: WriteWork, staging: str,
               launch: str) -> ChunkOutcome:
    """The Dask task of one ``launch`` (an attempt at a run): read, frame and decode one
    chunk and commit it with its ledger row, or find it in the ledger already and commit
    nothing. A chunk found committed with rejected or discarded records is decoded all
    the same, for their bytes: the task that committed it may have died before reporting
    them for the bad and discard files (the launcher takes one report a chunk)."""
    worker = _worker(decode, write, launch)
    found = _in_ledger(worker, write, task)  # a retry of a task that committed
    if found is not None and not (found.committed.rejected or found.committed.discarded):
        return found
    began, cpu = time.perf_counter(), time.thread_time()
    span, framing = task.span, decode.source.framing
    chunk = reframe(worker.source.read(span.byte_offset, span.byte_length), span, framing,
                    decode.source.input_path).narrowed(task.skipped, task.skipped + task.records,
                                                       framing.header, framing.footer)
    result = process_chunk(chunk, task.carry, worker.worker_id, decode, worker.plan,
                           worker.condition, worker.link)
    if found is not None:
        return found._replace(bad_bytes=result.bad_bytes, discard_bytes=result.discard_bytes)
    result = result._replace(rows=worker.prepare(result.rows))
    loader = worker.take()
    try:
        loader = commit_with_retry(write, staging, result, loader)
    except BaseException as exc:
        if loader is not None:
            loader.close()
        found = _in_ledger(worker, write, task) if isinstance(exc, LoadError) else None
        if found is not None:  # a copy of this task committed the chunk first: this one
            return found._replace(bad_bytes=result.bad_bytes,  # rolled back
                                  discard_bytes=result.discard_bytes)
        raise
    worker.give(loader)
    committed = Committed(worker.worker_id, result.records, result.rows.num_rows,
                          result.rejects.num_rows, result.discarded)
    return ChunkOutcome(task.chunk_id, committed, len(chunk.data), True, result.bad_bytes,
                        result.discard_bytes, time.perf_counter() - began,
                        time.thread_time() - cpu)


def _in_ledger(worker: _Worker, write: WriteWork, task: SpanTask) -> ChunkOutcome | None:
    """The chunk as the ledger holds it, if it is committed (by another task)."""
    if not in_ledger(write, task.chunk_id, worker.store):
        return None
    record = next(c for c in worker.store.ledger(write.run_id) if c.chunk_id == task.chunk_id)
    return ChunkOutcome(task.chunk_id, Committed.of(record), record.byte_length, False)


def _worker(decode: DecodeWork, write: WriteWork, launch: str) -> _Worker:
    """This worker process's state for the launch, made by its first task."""
    with _RUNS_LOCK:
        found = _RUNS.get(launch)
        if found is not None:
            return found
        if launch in _ENDED:
            raise RunError(decode.run_id, f"attempt {launch} has ended: a task of it left "
                                          "over commits nothing")
        record = decode.source.record()
        plan = DecodePlan.compile(record, decode.decode)
        files = contextlib.ExitStack()
        source = files.enter_context(contextlib.closing(ByteRanges(decode.source.input_path)))
        store = files.enter_context(contextlib.closing(RunStore(write.db_url)))
        worker = _Worker(plan, source, files, store,
                         _worker_id(), link=ParentLink.of(plan),
                         condition=decode.source.condition(record),
                         prepare=class_of(decode.loader_kind).prepare)
        _RUNS[launch] = worker
        return worker


def dask_setup(worker: Any) -> None:
    """A local cluster's worker process starting (this module is its preload): signals are
    the launcher's to act on."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: nothing to install
            signal.signal(sig, signal.SIG_IGN)


def _worker_id() -> int:
    """The Dask worker's name as a WORKER_ID: a local cluster's ``n`` is ``n + 1``; another
    name (an address, a host name) a number derived from it."""
    from distributed import get_worker

    name = get_worker().name
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        return int(name) + 1
    return zlib.crc32(str(name).encode()) % 1_000_000 + 1_000


def forget(launch: str, loaded: bool = False) -> None:
    """Close what this worker process keeps for the launch (run on every worker at its
    end), and refuse its tasks from now on. Once the file is ``loaded``, a compressed
    input's spool on this worker's host is removed (a task of another run still reading
    it keeps its mapping; one that opens it later decompresses it again)."""
    with _RUNS_LOCK:
        _ENDED.add(launch)
        worker = _RUNS.pop(launch, None)
    if worker is not None:
        for loader in worker.idle:
            loader.close()
        worker.files.close()
        if loaded and worker.source.mapped:  # a spool it made (never a launcher's copy of
            release_spool(worker.source.path)  # an object it read ranges of)

