"""What travels between the reader, the processors and the writers.

A task is a chunk's place in the file (the processor maps the file itself, so no record
bytes are pickled); on a cluster, only its entry in the file's sparse index (the task reads
and frames the span itself); a result is the decoded chunk as whole buffers: Arrow record batches
(pickled as Arrow IPC buffers), or staging rows already encoded for the loader.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from mfpipe.codec.segments import NO_CARRY, Carry
from mfpipe.db.explorer import ChunkRecord
from mfpipe.framing import ChunkSpan
from mfpipe.pipeline.kept import Kept, Outputs


class ChunkTask(NamedTuple):
    """A chunk to decode: where it lies and, for variable records, where each record starts."""

    chunk_id: int
    first_record_no: int
    byte_offset: int
    byte_length: int
    starts: np.ndarray | None  # None for fixed-length records
    lengths: np.ndarray | None
    carry: Carry = NO_CARRY  # a child segment's load: the last parent before the chunk
    replay: bool = False  # committed by an earlier attempt: decoded for its kept bytes only


class SpanTask(NamedTuple):
    """A chunk to read, frame and decode (``--executor dask``): the whole chunk's span, and
    which of its records the run reads (all but the first ``skipped``, ``records`` of them:
    a window may cut the first and last chunks)."""

    span: ChunkSpan
    skipped: int
    records: int
    carry: Carry = NO_CARRY
    replay: bool = False  # committed by an earlier attempt (the task finds it in the ledger)

    @property
    def chunk_id(self) -> int:
        return self.span.chunk_id


class ChunkResult(NamedTuple):
    """A decoded chunk, ready for one staging transaction."""

    chunk_id: int
    worker_id: int
    byte_offset: int
    byte_length: int
    first_record_no: int
    records: int
    rows: Any  # staging rows, lineage columns first: a batch, or the loader's ``prepare``d form
    rejects: pa.RecordBatch  # mfp_reject rows
    bad_bytes: bytes  # the rejected records as they were in the file
    content_hash: int  # sum of the rows' digests mod 2**64 (mfpipe.codec.digest)
    totals: dict[str, str]  # exact sums of the money columns, decimal text
    discarded: int = 0  # records that did not meet --when
    discard_bytes: bytes = b""  # those records as they were in the file
    nulled: tuple[tuple[str, int], ...] = ()  # (column, fields): invalid numerics as NULL
    replay: bool = False  # of a chunk committed already: only its kept bytes are wanted

    def keep(self, outputs: Outputs) -> None:
        """Keep its rejected and discarded records' bytes for the bad and discard files."""
        outputs.keep(self.chunk_id, Kept(self.rejects.num_rows, self.bad_bytes),
                     Kept(self.discarded, self.discard_bytes))


class Committed(NamedTuple):
    """A committed chunk as the ledger holds it: who decoded it and what became of its
    records (read = loaded + rejected + discarded)."""

    worker_id: int
    records: int
    loaded: int
    rejected: int
    discarded: int = 0

    @classmethod
    def of(cls, chunk: ChunkRecord) -> Committed:
        """From the chunk's ledger row."""
        return cls(chunk.worker_id, chunk.records, chunk.rows_loaded, chunk.rows_rejected,
                   chunk.rows_discarded)
