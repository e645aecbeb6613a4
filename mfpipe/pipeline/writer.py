"""The writer process: M threads, each with its own connection, one transaction per chunk.

A chunk's staging rows, its reject rows and its ``mfp_chunk`` ledger row commit together or
not at all; transient database errors (lost connection, deadlock) are retried on a fresh
connection with exponential backoff. Before the ledger row, the chunk's staging rows are
measured in the same transaction (:mod:`mfpipe.db.probe`): a chunk the database does not
hold as it was decoded is rolled back and fails the run. Every commit is reported to the
launcher as an event.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
import structlog
import tenacity

from mfpipe.db.rows import CHUNK_SCHEMA, NULLED_SCHEMA
from mfpipe.db.loaders import BulkLoader, open_loader
from mfpipe.db.faults import connection_lost, unavailable
from mfpipe.db.measure import Measure
from mfpipe.db.probe import ChunkProbe, expected_measure
from mfpipe.db.runs import RunStore, utcnow
from mfpipe.db.urls import session_url
from mfpipe.errors import (ChunkProofError, DatabaseUnavailableError, LoadError,
                           MfpipeError, TransientLoadError)
from mfpipe.pipeline.metrics import MetricsAggregator
from mfpipe.pipeline.processor import launcher_alive, leave_with_launcher
from mfpipe.pipeline.spec import WriteWork
from mfpipe.pipeline.tasks import ChunkResult, Committed

POLL_S = 0.2
log = structlog.get_logger()


def run_writers(work: WriteWork, staging: str, results: Any, events: Any,
                metrics: MetricsAggregator, abort: Any) -> None:
    """Process main: start the writer threads and wait for them; exit 1 if one failed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    leave_with_launcher()  # see mfpipe.pipeline.processor.leave_with_launcher
    failed = threading.Event()
    threads = [threading.Thread(target=_write_loop, name=f"writer-{i + 1}", daemon=True,
                                args=(work, staging, results, events, metrics, abort, failed))
               for i in range(work.writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed.is_set():
        raise SystemExit(1)


def _write_loop(work: WriteWork, staging: str, results: Any, events: Any,
                metrics: MetricsAggregator, abort: Any, failed: threading.Event) -> None:
    loader: BulkLoader | None = None
    try:
        loader = _retrying(work, "connect")(_open_loader, work)  # as the first chunk decodes
        while not abort.is_set() and not failed.is_set() and launcher_alive():
            try:
                result = results.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if result is None:
                return
            result.keep(work.outputs)  # before its commit: a chunk committed has its bytes
            if result.replay:
                continue
            loader = commit_with_retry(work, staging, result, loader)
            metrics.add(result.worker_id, written=result.rows.num_rows, batches=1)
            metrics.cpu("writer")
            committed = Committed(result.worker_id, result.records, result.rows.num_rows,
                                  result.rejects.num_rows, result.discarded)
            events.put(("committed", result.chunk_id, committed, result.byte_length))
    except MfpipeError as exc:
        failed.set()
        events.put(("error", threading.current_thread().name, str(exc), exc.exit_code))
    except Exception as exc:  # report, never hang: the launcher ends the run FAILED
        failed.set()
        events.put(("error", threading.current_thread().name,
                    f"{type(exc).__name__}: {exc}", 70))
    finally:
        if loader is not None:
            loader.close()


def commit_with_retry(work: WriteWork, staging: str, result: ChunkResult,
                       loader: BulkLoader | None) -> BulkLoader:
    """Write one chunk; on a transient error reconnect and redo the whole transaction,
    unless it committed after all: a connection lost during COMMIT leaves its outcome
    unknown, and the ledger (written in the same transaction) says which it was."""
    current = [loader]
    failed_before = [False]

    def attempt() -> None:
        loader = current[0] = current[0] or _open_loader(work)
        if failed_before[0] and in_ledger(work, result.chunk_id):
            log.info("chunk committed before the connection was lost", chunk=result.chunk_id)
            return
        try:
            _write_chunk(loader, staging, result, work.run_id, work.probe)
        except (TransientLoadError, DatabaseUnavailableError):
            failed_before[0] = True
            if current[0] is not None:
                current[0].rollback()
                current[0].close()
            current[0] = None
            raise

    _retrying(work, result.chunk_id)(attempt)
    assert current[0] is not None
    return current[0]


def in_ledger(work: WriteWork, chunk_id: int, store: RunStore | None = None) -> bool:
    """Is the chunk in the run's ledger (committed by an attempt whose COMMIT's answer was
    lost, or by another copy of a task)? Asked through ``store``, or a store of its own (a
    connection apart from the chunk's transaction); a database away is 75."""
    asking = store or RunStore(work.db_url)
    try:
        return asking.committed(work.run_id, chunk_id)
    except sa.exc.DBAPIError as exc:
        if connection_lost(exc):
            raise unavailable(work.db_url, exc) from None
        raise
    finally:
        if store is None:
            asking.close()


def _open_loader(work: WriteWork) -> BulkLoader:
    """A loader whose database session is named after the run (see ``session_url``)."""
    options = {"direct_path": True} if work.direct_path else {}
    return open_loader(session_url(work.db_url, work.run_id), work.loader, **options)


def _retrying(work: WriteWork, chunk: int | str) -> tenacity.Retrying:
    """Transient database errors retried with exponential backoff for ``--retry-seconds``."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((TransientLoadError, DatabaseUnavailableError)),
        wait=tenacity.wait_exponential(multiplier=0.5, max=10),
        stop=tenacity.stop_after_delay(work.retry_s), reraise=True,
        before_sleep=lambda state: log.warning("database error, retrying", chunk=chunk,
                                               attempt=state.attempt_number,
                                               error=str(state.outcome and
                                                         state.outcome.exception())))


def _write_chunk(loader: BulkLoader, staging: str, result: ChunkResult, run_id: str,
                 probe: ChunkProbe | None = None) -> None:
    """Staging rows, their proof, reject rows and the ledger row, in one transaction."""
    committed_at = utcnow()
    ledger = pa.RecordBatch.from_pylist([{
        "run_id": run_id, "chunk_id": result.chunk_id, "worker_id": result.worker_id,
        "byte_offset": result.byte_offset, "byte_length": result.byte_length,
        "first_record_no": result.first_record_no,
        "last_record_no": result.first_record_no + result.records - 1,
        "rows_loaded": result.rows.num_rows, "rows_rejected": result.rejects.num_rows,
        "rows_discarded": result.discarded,
        "status": "COMMITTED", "committed_at": committed_at,
        "content_hash": str(result.content_hash),
        "totals": json.dumps(result.totals, sort_keys=True)}], schema=CHUNK_SCHEMA)
    try:
        after = probe.before(loader.fetch_one) if probe is not None else None
        loader.load(staging, result.rows)
        if probe is not None:
            loader.load("mfp_chunk_proof", probe.ledger_row(
                run_id, result.chunk_id,
                _proved(loader, probe, staging, result, run_id, after), committed_at))
        loader.load("mfp_reject", result.rejects)
        if result.nulled:
            loader.load("mfp_nulled", pa.RecordBatch.from_pylist(
                [{"run_id": run_id, "chunk_id": result.chunk_id, "column_name": column,
                  "fields": count} for column, count in result.nulled], schema=NULLED_SCHEMA))
        loader.load("mfp_chunk", ledger)
        loader.commit()
    except LoadError as exc:
        loader.rollback()
        raise type(exc)(exc.table, result.chunk_id, exc.message, exc.statement,
                        exc.params_preview) from None
    except BaseException:
        loader.rollback()
        raise


def _proved(loader: BulkLoader, probe: ChunkProbe, staging: str, result: ChunkResult,
            run_id: str, after: int | None) -> Measure:
    """The chunk's staging rows as the open transaction sees them, if they are what the
    processor decoded; otherwise :class:`ChunkProofError` naming what differs."""
    found = probe.measure(loader.fetch_one, run_id, result.chunk_id, result.worker_id, after)
    decoded = expected_measure(result.rows.num_rows, result.content_hash, result.totals)
    if found.proves(decoded):
        return found
    differences = [f"{found.rows} rows found, {decoded.rows} written"] if (
        found.rows != decoded.rows) else []
    if found.content_hash != decoded.content_hash:
        differences.append(f"content hash {found.content_hash:016x} found, "
                           f"{decoded.content_hash:016x} decoded")
    differences += [f"{column} totals {found.totals.get(column, 0):f} found, {total:f} decoded"
                    for column, total in decoded.totals.items()
                    if found.totals.get(column) != total]
    raise ChunkProofError(staging, result.chunk_id, result.worker_id, result.first_record_no,
                          result.first_record_no + result.records - 1, "; ".join(differences))
