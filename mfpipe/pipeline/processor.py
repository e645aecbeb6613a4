"""A processor process: chunk tasks in, decoded Arrow batches with lineage columns out.

The process maps the input file itself, so a task is only offsets; it decodes with the plan
compiled once at start-up, adds ``run_id``, ``worker_id``, ``chunk_id`` and ``record_no``,
turns rejects into ``mfp_reject`` rows and keeps their original bytes for the bad file.
The staging rows leave in the form the writer's loader takes fastest (``prepare``: for
PostgreSQL, already encoded for the binary COPY), so the writer only sends them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from typing import Any

import numpy as np
import pyarrow as pa

from mfpipe.codec import DecodePlan
from mfpipe.codec.digest import column_totals, content_hash
from mfpipe.codec.segments import Carry, ParentLink
from mfpipe.db.loaders import class_of
from mfpipe.db.rows import REJECT_SCHEMA
from mfpipe.errors import MfpipeError
from mfpipe.framing import RawChunk
from mfpipe.pipeline.metrics import MetricsAggregator
from mfpipe.pipeline.process import decode_chunk
from mfpipe.pipeline.selection import Condition
from mfpipe.pipeline.spec import DecodeWork
from mfpipe.pipeline.source import open_input
from mfpipe.pipeline.tasks import ChunkResult, ChunkTask

POLL_S = 0.2


def run_processor(worker_id: int, work: DecodeWork, tasks: Any, results: Any, events: Any,
                  metrics: MetricsAggregator, abort: Any) -> None:
    """Process main: decode tasks until the reader's sentinel (None) or an abort. An error
    the operator can act on (an input that cannot be read, say) is told to the launcher
    with its exit code before the process ends, as a writer's is, not left as a death."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher decides how to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    leave_with_launcher()  # also from a blocked exit: see leave_with_launcher
    finished = False
    try:
        finished = _process_tasks(worker_id, work, tasks, results, metrics, abort)
    except MfpipeError as exc:
        events.put(("error", f"processor-{worker_id}", str(exc), exc.exit_code))
        raise SystemExit(1) from None
    finally:
        if not finished:  # aborted, launcher gone, or an error: a result still buffered for
            results.cancel_join_thread()  # a queue nobody drains would block the exit


def _process_tasks(worker_id: int, work: DecodeWork, tasks: Any, results: Any,
                   metrics: MetricsAggregator, abort: Any) -> bool:
    """Decode until the reader's sentinel (True) or until the run is over without it."""
    record = work.source.record()
    plan = DecodePlan.compile(record, work.decode)
    condition = work.source.condition(record)
    link = ParentLink.of(plan)
    prepare = class_of(work.loader_kind).prepare  # e.g. encode for COPY
    with open_input(work.readable_path) as buffer:
        data = np.frombuffer(buffer, dtype=np.uint8)
        while not abort.is_set() and launcher_alive():
            try:
                task = tasks.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if task is None:
                return True
            began = time.perf_counter()
            result = process_task(task, worker_id, work, plan, data, condition, link)
            if task.replay:  # counted by the attempt that committed it
                result = result._replace(rows=result.rows.slice(0, 0), replay=True)
            else:
                result = result._replace(rows=prepare(result.rows))
                metrics.add(worker_id, read=result.records, processed=result.rows.num_rows,
                            rejected=result.rejects.num_rows, discarded=result.discarded,
                            busy_s=time.perf_counter() - began)
            metrics.cpu(f"processor-{worker_id}")
            while not abort.is_set() and launcher_alive():  # a dead writer never drains it
                try:
                    results.put(result, timeout=POLL_S)
                    break
                except queue.Full:
                    continue
    return False


def launcher_alive() -> bool:
    """False once the launcher is gone (killed): children then leave instead of waiting."""
    parent = mp.parent_process()
    return parent is None or parent.is_alive()


def leave_with_launcher() -> None:
    """Exit once the launcher is gone, checked by a daemon thread, so a killed launcher
    leaves no process behind: the Manager's server waits on others; a processor or the
    writer can block where no loop polls (at exit, a queue's feeder thread flushing into a
    pipe nobody drains any more: every child holds both ends of each queue, so the pipe
    never breaks)."""
    def watch() -> None:
        while launcher_alive():
            time.sleep(POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def process_task(task: ChunkTask, worker_id: int, work: DecodeWork, plan: DecodePlan,
                 data: np.ndarray, condition: Condition | None = None,
                 link: ParentLink | None = None) -> ChunkResult:
    """:func:`process_chunk` of the task's chunk in ``data`` (the whole input, mapped)."""
    framing = work.source.framing
    span = data[task.byte_offset:task.byte_offset + task.byte_length]
    if task.starts is None:
        lrecl = framing.lrecl or plan.record.size
        count = task.byte_length // lrecl
        starts = lrecl * np.arange(count, dtype=np.int64)
        lengths = np.full(count, lrecl, dtype=np.int64)
    else:
        assert task.lengths is not None  # variable records: the reader sends both
        starts, lengths = task.starts, task.lengths
    chunk = RawChunk(task.chunk_id, task.first_record_no, task.byte_offset, span, starts, lengths)
    return process_chunk(chunk, task.carry, worker_id, work, plan, condition, link)


def process_chunk(chunk: RawChunk, carry: Carry, worker_id: int, work: DecodeWork,
                  plan: DecodePlan, condition: Condition | None = None,
                  link: ParentLink | None = None) -> ChunkResult:
    """Decode one chunk into staging rows and reject rows; the records that do not meet
    ``condition`` (``--when``) are discarded, their bytes kept for the discard file; in a
    segment load, the other segments' records are discarded too (counted: read = loaded +
    rejected + discarded), their bytes not kept (their own segment's load has them)."""
    framing = work.source.framing
    span, starts, lengths = chunk.data, chunk.starts, chunk.lengths
    decoded = decode_chunk(plan, chunk, framing, condition, carry, link)
    n = decoded.batch.num_rows
    lineage = [_repeat(work.run_id, n, pa.string()), _repeat(worker_id, n, pa.int32()),
               _repeat(chunk.chunk_id, n, pa.int32()), pa.array(decoded.record_no, pa.int64())]
    rows = pa.RecordBatch.from_arrays(
        lineage + list(decoded.batch.columns),
        names=["run_id", "worker_id", "chunk_id", "record_no", *decoded.batch.schema.names])
    rejects = decoded.rejects
    m = rejects.num_rows
    reject_rows = pa.RecordBatch.from_arrays([
        _repeat(work.run_id, m, pa.string()), rejects.column("record_no"),
        _repeat(chunk.chunk_id, m, pa.int32()), rejects.column("byte_offset"),
        rejects.column("field"), rejects.column("column"), rejects.column("field_offset"),
        rejects.column("reason"), rejects.column("raw_hex")], schema=REJECT_SCHEMA)
    rejected = rejects.column("record_no").to_numpy() - chunk.first_record_no
    elsewhere = (decoded.elsewhere - chunk.first_record_no if decoded.elsewhere is not None
                 else rejected[:0])  # a segment load: the other segments' records
    discarded = np.setdiff1d(np.arange(chunk.n_records), np.concatenate(
        [decoded.record_no - chunk.first_record_no, rejected, elsewhere])
    ) if condition else rejected[:0]

    def original(index: np.ndarray) -> bytes:  # the records as in the file, RDW and all
        return b"".join(bytes(span[starts[i] - framing.header:
                                   starts[i] + lengths[i] + framing.footer]) for i in index)

    return ChunkResult(chunk.chunk_id, worker_id, chunk.byte_offset, len(span),
                       chunk.first_record_no, chunk.n_records, rows, reject_rows,
                       original(rejected), content_hash(decoded.batch, work.hash_columns),
                       column_totals(decoded.batch, work.money_columns),
                       len(discarded) + len(elsewhere), original(discarded), decoded.nulled)


def _repeat(value: object, n: int, arrow_type: pa.DataType) -> pa.Array:
    return pa.array([value], arrow_type).take(pa.array(np.zeros(n, dtype=np.int64)))
