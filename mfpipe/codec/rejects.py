"""Reject rows: which record, where in the file, which field, why, and the record's raw bytes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mfpipe.codec.reasons import Reason
from mfpipe.layout import Field

REJECT_SCHEMA = pa.schema([
    pa.field("record_no", pa.int64(), nullable=False),
    pa.field("byte_offset", pa.int64(), nullable=False),  # of the record in the file
    pa.field("field", pa.string()),  # COBOL name of the first bad field
    pa.field("column", pa.string()),
    pa.field("field_offset", pa.int32()),  # of that field within the record
    pa.field("reason", pa.string(), nullable=False),
    pa.field("raw_hex", pa.string(), nullable=False),
])
_HEX = np.frombuffer(b"".join(b"%02X" % i for i in range(256)), dtype=np.uint8).reshape(256, 2)


def hex_strings(rows: np.ndarray, lengths: np.ndarray | None) -> pa.Array:
    """Upper-case hex of each row's first ``lengths`` bytes (whole rows when None)."""
    n, width = rows.shape
    lengths = np.full(n, width) if lengths is None else np.minimum(lengths, width)
    digits = _HEX[rows].reshape(n, 2 * width)
    kept = np.arange(2 * width)[None, :] < (2 * lengths)[:, None]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(2 * lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets),
                                                        pa.py_buffer(digits[kept])]).cast(pa.string())


def reject_batch(record_no: np.ndarray, byte_offsets: np.ndarray, fields: list[Field],
                 reasons: np.ndarray, rows: np.ndarray, lengths: np.ndarray | None
                 ) -> pa.RecordBatch:
    """Reject rows for the records of ``rows``; one field and one reason per record."""
    texts = [Reason(int(r)).text for r in range(len(Reason))]
    return pa.RecordBatch.from_arrays([
        pa.array(record_no, pa.int64()),
        pa.array(byte_offsets, pa.int64()),
        pa.array([f.name for f in fields], pa.string()),
        pa.array([f.column for f in fields], pa.string()),
        pa.array([f.offset for f in fields], pa.int32()),
        pa.array(texts, pa.string()).take(pa.array(reasons.astype(np.int64))),
        hex_strings(rows, lengths),
    ], schema=REJECT_SCHEMA)


def empty_rejects() -> pa.RecordBatch:
    """A reject batch with no rows."""
    return pa.RecordBatch.from_pylist([], schema=REJECT_SCHEMA)
