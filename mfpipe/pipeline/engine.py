"""The launcher side of a run: start the processes, supervise them, record the outcome.

reader (thread) -> tasks (bounded) -> N processor processes -> results (bounded) ->
writer process (M threads) -> database; commits come back as events. The supervisor loop
ends the run FAILED within a poll or two when any process dies (even by SIGKILL), when a
writer reports an error, or when rejects exceed ``max_errors``; SIGTERM/SIGINT stop it at a
chunk boundary (STOPPED). Nothing is half-written: each chunk commits with its ledger row.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import time
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.managers import SyncManager
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, TypeVar

import structlog

from mfpipe.codec import DecodePlan
from mfpipe.codec.digest import hash_columns, money_columns
from mfpipe.db.explorer import ChunkRecord
from mfpipe.db.faults import connection_lost, retried
from mfpipe.db.loaders import LOADERS, loader_class, loader_kind
from mfpipe.db.probe import ChunkProbe
from mfpipe.db.runs import RunStore, utcnow
from mfpipe.db.status import FAILED, LOADED, STARTED, STARTING, STOPPED, STOPPING
from mfpipe.db.urls import redact
from mfpipe.errors import (EXIT_DATA, EXIT_INTERNAL, EXIT_NO_INPUT, EXIT_OK, EXIT_STOPPED,
                           EXIT_TEMPORARY, MfpipeError, OutputError, RunError)
from mfpipe.pipeline import forking, signals
from mfpipe.pipeline.spec import JobSpec, options_of
from mfpipe.pipeline.metrics import MetricsAggregator
from mfpipe.pipeline.processor import leave_with_launcher, run_processor
from mfpipe.pipeline.progress import Progress
from mfpipe.pipeline.reader import Reader
from mfpipe.pipeline.tasks import Committed
from mfpipe.pipeline.source import local_records, open_input, records_size
from mfpipe.pipeline.writer import run_writers

POLL_S = 0.05  # how soon the supervisor notices a commit, an exit or an error
GRACE_S = 3.0
CANCEL_POLL_S = 1.0  # how often the run's status is read for a cancel request
T = TypeVar("T")
log = structlog.get_logger()


@dataclass
class RunSummary:
    """The outcome of a run, as printed with ``--json``."""

    run_id: str | None  # None: the launch failed before any run took the file
    status: str
    exit_code: int
    message: str
    counts: dict[str, Any]
    tables: dict[str, str]
    elapsed_s: float  # the whole attempt's wall time (load and publication)
    bad_file: str | None = None
    reconciliation: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0  # which attempt at the run this was (1, then one more per resume)
    phases: dict[str, float] = field(default_factory=dict)  # load_s, publish_s
    cpu_s: float = 0.0  # the launcher and every process it started

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": 1, **asdict(self)}


@dataclass
class Watch:
    """What a supervising loop keeps between polls (see :meth:`Engine.watch`)."""

    beat: float = field(default_factory=time.monotonic)
    polled: float = field(default_factory=time.monotonic)
    stopping: bool = False


class Engine:
    """Loads one :class:`JobSpec`'s file into staging: LOADED (every chunk committed; the
    caller publishes it), STOPPED or FAILED."""

    def __init__(self, config: JobSpec, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress or Progress(bar=False, every_s=0)
        self.stop_asked = False
        self.committed: dict[int, Committed] = {}  # the ledger as this launcher knows it

    def request_stop(self, *_: object) -> None:
        """Stop at the next chunk boundary (signal handler and ``runs cancel``)."""
        self.stop_asked = True

    def run(self, store: RunStore, done_chunks: dict[int, Committed] | None = None
            ) -> RunSummary:
        """Load the file into the run a claim made or resumed (``mfp_run`` has its row);
        ``done_chunks`` (a resumed run's ledger; None for a new run) are counted but not
        loaded again, and what other chunks left is removed first."""
        started = time.perf_counter()
        record = self.config.source.record()
        plan = DecodePlan.compile(record, self.config.record_decode)
        self.config = config = resolve_columns(self.config, plan.schema)
        target = config.target
        staging, final = store.prepare(config.source.table(record), plan.schema,
                                       target.final_table, target.key, target.staging_table)
        self.committed = dict(done_chunks or {})
        if not store.update_active(config.run_id, layout=config.source.layout_path,
                                   staging_table=staging.name,
                                   options=json.dumps(options_of(config)),
                                   trailer_hex=read_trailer(config), version=_version(),
                                   heartbeat_at=utcnow()):
            raise RunError(config.run_id, "is not claimed by this launcher (another attempt "
                                          "owns it, or it ended); nothing was loaded",
                           EXIT_TEMPORARY)
        if done_chunks is not None:  # only once the run is this launcher's
            store.remove_unledgered(config.run_id, staging)
        execution = config.execution
        log.info("run starting", run_id=config.run_id, input=config.source.input_path,
                 db=redact(execution.db_url), processors=execution.processors,
                 writers=execution.writers)
        # Oracle's Direct Path Load commits a chunk's rows on its own: no transaction to
        # measure them in, so its runs' staging is scanned at publication
        probe = None if execution.direct_path else ChunkProbe.build(
            staging, config.measured(record, plan.schema), config.rules(record, plan.schema),
            store.dialect, loader_class(execution.db_url, execution.loader).paramstyle)
        status, exit_code, message, reader, metrics, cpu = self._supervise(
            store, staging.name, plan, probe)
        ledger = retried(lambda: store.ledger(config.run_id), execution.retry_s)
        counts = self._counts(ledger, reader, metrics)
        if status == LOADED and counts["read"] != reader.records:
            status, exit_code, message = FAILED, EXIT_INTERNAL, (
                f"the ledger holds {counts['read']} of the {reader.records} records framed; "
                "the run is restartable")
        status, exit_code, message = self._assemble(store, ledger,
                                                    (status, exit_code, message))
        load_s = round(time.perf_counter() - started, 3)
        summary = RunSummary(config.run_id, status, exit_code, message, counts,
                             {"staging": staging.name, "final": final.name,
                              "ledger": "mfp_chunk", "rejects": "mfp_reject"}, load_s,
                             config.bad_path if counts["rejected"] else None,
                             phases={"load_s": load_s}, cpu_s=cpu)
        outcome = {"metrics": json.dumps(counts["per_worker"])}
        if status == LOADED:  # the run stays STARTED until its publication ends it
            retried(lambda: store.record_load(config.run_id, counts, **outcome),
                    config.execution.retry_s)
        else:
            retried(lambda: store.finish(config.run_id, status, exit_code, counts, message,
                                         **outcome), config.execution.retry_s)
        log.info("load ended", run_id=config.run_id, status=status, exit_code=exit_code,
                 message=message, **{k: v for k, v in counts.items() if k != "per_worker"})
        return summary

    def _supervise(self, store: RunStore, staging: str, plan: DecodePlan,
                   probe: ChunkProbe | None
                   ) -> tuple[str, int, str, Reader, dict[int, dict[str, float]], float]:
        """Run the processes (or, with ``--executor dask``, a cluster's: see
        :mod:`mfpipe.pipeline.cluster`) to an outcome: (status, exit code, message, the
        reader, the per-worker metrics, and the CPU seconds the processes reported)."""
        config = self.config
        if config.execution.executor == "dask":
            from mfpipe.pipeline.cluster import supervise_on_cluster

            return supervise_on_cluster(self, store, staging, plan, probe)
        # started by the CLI already, or now with the Manager, preloading the run's loader
        kind = loader_kind(config.execution.db_url, config.execution.loader)
        ctx = forking.context(LOADERS[kind][0])
        manager = SyncManager(ctx=ctx)
        manager.start(initializer=leave_with_launcher)  # no orphan if the launcher is killed
        with manager:
            metrics = self.metrics(manager.dict())
            abort = ctx.Event()
            tasks = ctx.Queue(maxsize=2 * config.execution.processors)
            results = ctx.Queue(maxsize=2 * config.execution.writers)
            events = ctx.Queue()
            decode = replace(config.decode_work(),
                             local_path=local_records(config.source.input_path))
            processors = [ctx.Process(target=run_processor, name=f"processor-{i}",
                                      args=(i, decode, tasks, results, events, metrics, abort))
                          for i in range(1, config.execution.processors + 1)]
            writer = ctx.Process(target=run_writers, name="writer",
                                 args=(config.write_work(probe), staging, results, events, metrics,
                                       abort))
            reader = Reader(config, plan, tasks, lambda: self.stop_asked, abort, store)
            self.start_progress(store)
            try:
                with self.supervising():
                    for process in (*processors, writer):
                        process.start()
                    self.started(store, reader)
                    outcome = self._loop(store, reader, processors, writer, events, results)
            finally:
                abort.set()
                _reap([*processors, writer], (tasks, results, events))
                self.progress.close()
            return (*outcome, reader, metrics.per_worker(), metrics.cpu_seconds())

    @contextlib.contextmanager
    def supervising(self) -> Iterator[None]:
        """While the workers run: SIGTERM and SIGINT stop the run at a chunk boundary."""
        with signals.handled(), signals.stopping(self.request_stop):
            yield

    def started(self, store: RunStore, reader: Reader) -> None:
        """The workers are up: the run is STARTED (not over a STOPPING that ``runs cancel``
        wrote meanwhile) and the reader frames the file."""
        store.update_if(self.config.run_id, (STARTING,), status=STARTED)
        reader.start()

    def metrics(self, counts: MutableMapping[str, float]) -> MetricsAggregator:
        """The run's per-worker counters in ``counts``, holding what the earlier attempts
        of a restarted run did (from its ledger)."""
        metrics = MetricsAggregator(counts)
        for done in self.committed.values():
            metrics.add(done.worker_id, read=done.records, processed=done.loaded,
                        rejected=done.rejected, discarded=done.discarded, written=done.loaded,
                        batches=1)
        return metrics

    def start_progress(self, store: RunStore) -> None:
        """Progress over the file's bytes, those of the chunks committed before counted."""
        config = self.config
        done_bytes = sum(c.byte_length for c in store.ledger(config.run_id)
                         ) if self.committed else 0
        self.progress.start(config.run_id, records_size(config.source.input_path) or 0,
                            done_bytes)

    def commit(self, chunk_id: int, committed: Committed, byte_length: int) -> None:
        """A chunk's commit, as reported by whoever committed it."""
        self.committed[chunk_id] = committed
        self.progress.advance(committed.records, byte_length)

    def watch(self, store: RunStore, reader: Reader, state: Watch) -> tuple[str, int, str] | None:
        """What every supervising loop does between commits, local or on a cluster: the
        error limit, the reader's error, a stop asked for (STOPPING), the heartbeat (a lost
        lease ends the attempt), and ``runs cancel``; the outcome that ends the run, if
        one does."""
        config = self.config
        rejected = sum(c.rejected for c in self.committed.values())
        if config.execution.max_errors and rejected > config.execution.max_errors:
            return FAILED, EXIT_DATA, (f"{rejected} rejected records exceed --max-errors "
                                       f"{config.execution.max_errors}; see mfp_reject and "
                                       f"{config.bad_path}")
        if reader.error is not None:
            error = reader.error
            code = error.exit_code if isinstance(error, MfpipeError) else EXIT_INTERNAL
            return FAILED, code, f"reader: {error}"
        if self.stop_asked and not state.stopping:
            state.stopping = True
            store.update(config.run_id, status=STOPPING)
        if time.monotonic() - state.beat > config.execution.heartbeat_s:
            beaten = _unless_away(lambda: store.heartbeat(config.run_id))
            if beaten == 0:  # this attempt lost its lease
                return FAILED, EXIT_TEMPORARY, ("another launcher took the run over (this "
                                                "one was stopped too long); this attempt "
                                                "stopped")
            if beaten is not None:  # a database away for a moment: beat again soon
                state.beat = time.monotonic()
        if time.monotonic() - state.polled > CANCEL_POLL_S:
            if not state.stopping and _unless_away(lambda: store.status(config.run_id)) == \
                    STOPPING:
                self.request_stop()  # `mfpipe runs cancel`
            state.polled = time.monotonic()
        return None

    def ended(self, reader: Reader, state: Watch) -> tuple[str, int, str]:
        """The outcome once every task is done: STOPPED if a stop came or the reader did
        not frame the whole file, else LOADED."""
        if state.stopping or not reader.finished:
            return STOPPED, EXIT_STOPPED, "stopped at a chunk boundary; restartable"
        return LOADED, EXIT_OK, ""

    def _loop(self, store: RunStore, reader: Reader, processors: list[Any], writer: Any,
              events: Any, results: Any) -> tuple[str, int, str]:
        config = self.config
        sentinels_sent = False
        state = Watch()
        while True:
            failure = self._drain(events)
            if failure:
                return FAILED, failure[1], failure[0]
            outcome = self.watch(store, reader, state)  # the error limit before a death
            if outcome:
                return outcome
            dead = _dead(processors) or (writer.exitcode not in (None, 0) and writer)
            if dead:
                failure = self._drain(events, final=True)  # what it said before it went
                if failure:
                    return FAILED, failure[1], failure[0]
                if dead.exitcode == -signal.SIGBUS:  # the mapped file shrank under it
                    return FAILED, EXIT_NO_INPUT, (
                        f"{config.source.input_path} changed while it was read ({dead.name} hit "
                        "its end: killed by SIGBUS); load it again once it is complete")
                return FAILED, EXIT_INTERNAL, f"{dead.name} (pid {dead.pid}) died: " + \
                    _describe(dead.exitcode) + "; the run is restartable"
            if not sentinels_sent and not reader.is_alive() and all(
                    p.exitcode == 0 for p in processors):
                for _ in range(config.execution.writers):
                    results.put(None)
                sentinels_sent = True
            if sentinels_sent and writer.exitcode == 0:
                failure = self._drain(events, final=True)
                if failure:
                    return FAILED, failure[1], failure[0]
                return self.ended(reader, state)

    def _drain(self, events: Any, final: bool = False) -> tuple[str, int] | None:
        """Take writer events; return (message, exit code) of the first error. ``final``
        (a process has gone): also what is still on its way, for one more poll at most,
        however busy the processes still running keep the queue."""
        deadline = time.monotonic() + (POLL_S if final else 0)
        timeout = POLL_S
        while True:
            try:
                event = events.get(timeout=timeout)
            except queue.Empty:
                return None
            timeout = max(0.0, deadline - time.monotonic())
            if event[0] == "error":
                return f"{event[1]}: {event[2]}", event[3]
            self.commit(*event[1:])

    def _counts(self, ledger: list[ChunkRecord], reader: Reader,
                per_worker: dict[int, dict[str, float]]) -> dict[str, Any]:
        """The run's counts as its ledger holds them once every process is gone (a writer
        may commit chunks in flight while a failed run ends): read, loaded, rejected and
        discarded are those of committed chunks, so they always equal the ledger's;
        skipped, the records before the first one read."""
        done = [Committed.of(c) for c in ledger]
        return {"read": sum(c.records for c in done), "loaded": sum(c.loaded for c in done),
                "rejected": sum(c.rejected for c in done),
                "discarded": sum(c.discarded for c in done), "skipped": reader.skipped,
                "chunks": reader.chunks, "chunks_committed": len(done),
                "per_worker": {str(k): v for k, v in per_worker.items()}}

    def _assemble(self, store: RunStore, ledger: list[ChunkRecord],
                  outcome: tuple[str, int, str]) -> tuple[str, int, str]:
        """The bad and discard files made of the ledger's chunks' kept bytes, whatever the
        outcome (a failed run's hold what it committed), by the attempt that owns the run
        only (one taken over leaves them to the new owner); a loaded run must have every
        chunk's, or it is FAILED (its restart decodes the chunks lacking them again)."""
        outputs = self.config.outputs
        loaded = outcome[0] == LOADED
        try:
            if not _unless_away(store.holds_lease):
                return outcome
            lacking = [c.chunk_id for c in ledger if outputs.missing(c)] if loaded else []
            outputs.assemble(c.chunk_id for c in ledger)
        except OutputError as exc:
            return (FAILED, exc.exit_code, str(exc)) if loaded else outcome
        if lacking:
            return FAILED, EXIT_INTERNAL, (
                f"the bytes of the rejected or discarded records of chunk(s) "
                f"{', '.join(map(str, lacking[:5]))} were not kept for the bad or discard "
                "file; the run is restartable (its restart decodes those chunks again, "
                "loading nothing twice)")
        return outcome


def _unless_away(look: Callable[[], T]) -> T | None:
    """``look()``, or None while the database is away (the writers retry meanwhile; the
    launcher looks again at its next poll)."""
    try:
        return look()
    except Exception as exc:
        if connection_lost(exc):
            return None
        raise


def _dead(processes: list[Any]) -> Any:
    return next((p for p in processes if p.exitcode not in (None, 0)), None)


def _describe(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _reap(processes: list[Any], queues: tuple[Any, ...]) -> None:
    """Let processes leave within the grace period, then kill what is left."""
    deadline = time.monotonic() + GRACE_S
    for process in processes:
        if process.pid is not None:
            process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.pid is not None and process.is_alive():
            process.kill()
            process.join(1.0)
    for q in queues:
        q.cancel_join_thread()
        q.close()


def resolve_columns(config: JobSpec, schema: Any) -> JobSpec:
    """The config with its hash and money columns chosen, so every process and every later
    reconciliation of the run use the same ones (they are stored with the run's options)."""
    return config.changed(hash_columns=hash_columns(schema, config.proof.hash_columns),
                   money_columns=money_columns(schema, config.proof.money_columns))


def read_trailer(config: JobSpec) -> str | None:
    """The trailer bytes in hex, kept with the run: reconciliation checks them later even if
    the file has gone by then."""
    if not config.proof.trailer_record:
        return None
    config.source.record(config.proof.trailer_record)  # a missing one fails now
    with open_input(config.source.input_path) as buffer:
        return bytes(buffer[len(buffer) - config.source.framing.skip_trailer_bytes:]).hex()


def _version() -> str:
    from importlib.metadata import version

    return version("mfpipe")
