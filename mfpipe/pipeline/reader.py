"""The single reader: frames the file, counts its records and queues chunk tasks.

It runs as a thread of the launcher. The task queue is bounded, so the reader waits while
the processors are busy (backpressure) and memory stays flat whatever the file size.
Chunks already in the ledger (a restart) are counted but not loaded again (a replay, for
the bytes of its rejected and discarded records, if the bad file's part of one is missing).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from mfpipe.codec import DecodePlan
from mfpipe.codec.segments import Carry
from mfpipe.db.explorer import ChunkRecord, PlannedChunk
from mfpipe.db.faults import connection_lost, retried, unavailable
from mfpipe.db.runs import RunStore
from mfpipe.errors import EXIT_USAGE, RunError
from mfpipe.pipeline.spec import JobSpec
from mfpipe.framing import RawChunk
from mfpipe.pipeline.process import Selected, selected_chunks, with_carries
from mfpipe.pipeline.source import open_input
from mfpipe.pipeline.tasks import ChunkTask, SpanTask

POLL_S = 0.2
PLAN_AHEAD = 32  # chunks planned in one transaction, at most


class Reader(threading.Thread):
    """Queues one task per chunk, then one sentinel per processor.

    It is the run's planner: it frames the file without decoding it (fixed records by
    arithmetic, RDW and BDW chains by their descriptor words, text by its newlines), and
    stores each chunk's entry of the plan (``mfp_plan``) before its task is queued, a few
    chunks at a time (1, 2, 4, ... up to ``PLAN_AHEAD``). An attempt that resumes the run
    must frame the file into the chunks planned: one that differs (another mfpipe cutting
    the file otherwise) ends the run, before a chunk could be loaded twice or not at all."""

    def __init__(self, config: JobSpec, plan: DecodePlan, tasks: Any,
                 should_stop: Callable[[], bool], abort: Any, store: RunStore,
                 sparse: bool = False) -> None:
        """``plan``: the run's, which links a child segment's chunks to their parents;
        ``store``: where the run's plan and ledger are kept (the ledger's chunks are
        counted, not queued again); ``sparse``: queue each chunk's span
        (:class:`SpanTask`) for a task that reads and frames its bytes itself, not where
        each of its records starts."""
        super().__init__(name="reader", daemon=True)
        self.path, self.framing = config.source.input_path, config.source.framing
        self.chunk_records = config.execution.chunk_records
        self.window = config.source.window
        self.plan = plan
        self.run_id, self.store = config.run_id, store
        self.outputs = config.outputs
        self.retry_s = config.execution.retry_s
        self.tasks, self.processors = tasks, config.execution.processors
        self.should_stop = should_stop
        self.abort = abort
        self.sparse = sparse
        self.records = 0  # source records read so far (skipped ones aside)
        self.skipped = 0  # records before the window (--skip-records): never read
        self.chunks = 0
        self.error: BaseException | None = None
        self.finished = False  # every chunk was framed (not stopped early)

    def run(self) -> None:
        try:
            planned = retried(lambda: self.store.plan(self.run_id), self.retry_s)
            committed = {c.chunk_id: c for c in retried(lambda: self.store.ledger(self.run_id),
                                                        self.retry_s)}
            with open_input(self.path) as buffer:
                chunks = selected_chunks(buffer, self.framing, self.chunk_records, self.window,
                                         self.path)
                batch: list[tuple[ChunkTask | SpanTask | None, PlannedChunk | None]] = []
                ahead = 1
                for selected, carry in with_carries(chunks, self.plan, self.framing):
                    if self.should_stop() or self.abort.is_set():
                        return
                    chunk = selected.chunk
                    self.skipped += selected.skipped
                    if not chunk.n_records:
                        continue
                    self.records += chunk.n_records
                    self.chunks += 1
                    entry = PlannedChunk(selected.span, selected.skipped, chunk.n_records)
                    done = committed.get(chunk.chunk_id)
                    self._as_committed(chunk, done)
                    batch.append((self._task(selected, carry, done),
                                  self._unplanned(entry, planned.pop(entry.chunk_id, None))))
                    if len(batch) >= ahead:
                        if not self._plan_and_put(batch):
                            return
                        batch, ahead = [], min(2 * ahead, PLAN_AHEAD)
                if not self._plan_and_put(batch):
                    return
                if planned:  # planned by an earlier attempt, and not in the file now
                    first = planned[min(planned)]
                    raise self._cut_otherwise(first.chunk_id,
                                              f"planned as {first.describe()}",
                                              "is not in the file now")
                self.finished = True
        except BaseException as exc:  # reported by the launcher, which ends the run FAILED
            # (75 for a database away past the retries of the plan's reads and writes)
            self.error = unavailable(self.store.url, exc) if connection_lost(exc) else exc
        finally:
            for _ in range(self.processors):
                self._put(None)

    def _unplanned(self, entry: PlannedChunk, stored: PlannedChunk | None
                   ) -> PlannedChunk | None:
        """The chunk's plan entry if no attempt stored it yet; None if one stored it alike."""
        if stored is None:
            return entry
        if stored != entry:
            raise self._cut_otherwise(entry.chunk_id, f"planned as {stored.describe()}",
                                      f"frames now as {entry.describe()}")
        return None

    def _as_committed(self, chunk: RawChunk, record: ChunkRecord | None) -> None:
        """A chunk the ledger holds must be framed where it was committed (a run begun
        before plans were kept has only its ledger to say so)."""
        if record is None or (record.byte_offset, record.byte_length, record.first_record_no,
                              record.records) == (chunk.byte_offset, len(chunk.data),
                                                  chunk.first_record_no, chunk.n_records):
            return
        raise self._cut_otherwise(
            chunk.chunk_id, f"committed as bytes {record.byte_offset}-"
                            f"{record.byte_offset + record.byte_length}, records "
                            f"{record.first_record_no}-{record.last_record_no}",
            f"frames now as bytes {chunk.byte_offset}-{chunk.end_offset}, records "
            f"{chunk.first_record_no}-{chunk.first_record_no + chunk.n_records - 1}")

    def _cut_otherwise(self, chunk_id: int, was: str, now: str) -> RunError:
        return RunError(self.run_id, f"chunk {chunk_id} of {self.path} was {was} and {now}: "
                                     "this attempt would cut the file otherwise than the "
                                     "run's first; `mfpipe reprocess` loads it afresh",
                        EXIT_USAGE)

    def _plan_and_put(self, batch: list[tuple[ChunkTask | SpanTask | None,
                                               PlannedChunk | None]]) -> bool:
        """Store the batch's new plan entries, then queue its tasks (False: stopped)."""
        new = [entry for _, entry in batch if entry is not None]
        if new:
            retried(lambda: self.store.record_plan(self.run_id, new), self.retry_s)
        return all(self._put(task) for task, _ in batch if task is not None)

    def _task(self, selected: Selected, carry: Carry, done: ChunkRecord | None
              ) -> ChunkTask | SpanTask | None:
        """The chunk's task: where its records lie, or (``sparse``) its span alone; for a
        chunk committed already (``done``), none, or a replay if its kept bytes are
        missing (:mod:`mfpipe.pipeline.kept`)."""
        if done is not None and not self.outputs.missing(done):
            return None
        replay = done is not None
        chunk = selected.chunk
        if self.sparse:
            return SpanTask(selected.span, selected.skipped, chunk.n_records, carry, replay)
        fixed = self.framing.fixed
        return ChunkTask(chunk.chunk_id, chunk.first_record_no, chunk.byte_offset,
                         len(chunk.data), None if fixed else chunk.starts,
                         None if fixed else chunk.lengths, carry, replay)

    def _put(self, item: ChunkTask | SpanTask | None) -> bool:
        """Queue an item, waiting for room; give up on abort (or, for a task, on stop)."""
        while not self.abort.is_set():
            try:
                self.tasks.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                if self.should_stop() and item is not None:
                    return False
        return False
