"""The Arrow shapes of ledger and reject rows, as the bulk loaders receive them.

Kept apart from the SQLAlchemy tables of :mod:`mfpipe.db.control` so that processor
processes, which build reject rows, need not import SQLAlchemy.
"""

from __future__ import annotations

import pyarrow as pa

CHUNK_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("chunk_id", pa.int32()), ("worker_id", pa.int32()),
    ("byte_offset", pa.int64()), ("byte_length", pa.int64()), ("first_record_no", pa.int64()),
    ("last_record_no", pa.int64()), ("rows_loaded", pa.int64()), ("rows_rejected", pa.int64()),
    ("rows_discarded", pa.int64()),
    ("status", pa.string()), ("committed_at", pa.timestamp("us")),
    ("content_hash", pa.string()), ("totals", pa.string()),
])
PROOF_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("chunk_id", pa.int32()), ("rows_found", pa.int64()),
    ("content_hash", pa.string()), ("totals", pa.string()), ("flagged", pa.string()),
    ("measured_at", pa.timestamp("us")),
])
NULLED_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("chunk_id", pa.int32()), ("column_name", pa.string()),
    ("fields", pa.int64()),
])
REJECT_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("record_no", pa.int64()), ("chunk_id", pa.int32()),
    ("byte_offset", pa.int64()), ("field", pa.string()), ("column_name", pa.string()),
    ("field_offset", pa.int32()), ("reason", pa.string()), ("raw_hex", pa.string()),
])


