"""The processor's work on one chunk: its records as a byte matrix, decoded by the plan."""

from __future__ import annotations

from mfpipe.codec import DecodedBatch, DecodePlan
from mfpipe.framing import FramingOptions, RawChunk


def decode_chunk(plan: DecodePlan, chunk: RawChunk, framing: FramingOptions) -> DecodedBatch:
    """Decode every record of a chunk; fixed records are viewed in place, not copied."""
    if framing.recfm in ("F", "FB"):
        matrix = chunk.matrix(framing.lrecl or plan.record.size)
        lengths = None
    else:
        matrix = chunk.matrix(plan.record.size)
        lengths = chunk.lengths
    return plan.decode(matrix, chunk.first_record_no, chunk.record_offsets, lengths)
