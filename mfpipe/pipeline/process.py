"""The processor's work on one chunk: its records as a byte matrix, decoded by the plan."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mfpipe.codec import DecodedBatch, DecodePlan
from mfpipe.errors import ConfigError
from mfpipe.framing import FramingOptions, RawChunk, iter_chunks
from mfpipe.layout import RecordLayout
from mfpipe.pipeline.selection import Condition, Window


CHUNK_BYTES = 64 << 20  # a chunk's records at the layout's size: memory bounded for any length


def records_per_chunk(chunk_records: int, record_size: int) -> int:
    """``--chunk-records``, fewer where records are so long that a chunk would exceed
    ``CHUNK_BYTES`` (32 KB records: 2,048 a chunk); the same for every attempt of a run."""
    return max(1, min(chunk_records, CHUNK_BYTES // max(record_size, 1)))


def check_framing(record: RecordLayout, framing: FramingOptions) -> None:
    """Refuse a record format that cannot hold the layout's records, before any file is
    read or written: an LRECL shorter than the record (every record would be cut), or
    TEXT lines for a layout with binary fields (their bytes may be newlines, and a line
    would end inside a record)."""
    margins = framing.record_start_offset + framing.record_end_offset
    if framing.recfm in ("F", "FB") and not framing.described and framing.lrecl \
            and framing.lrecl - margins < record.size:
        less = f" less the record offsets ({margins})" if margins else ""
        raise ConfigError(f"--lrecl {framing.lrecl}{less} is shorter than record {record.name} "
                          f"({record.size} bytes): every record would be cut short")
    if framing.recfm == "TEXT" and record.binary_fields:
        fields = ", ".join(f"{f.name} ({f.usage.value})" for f in record.binary_fields[:3])
        raise ConfigError(f"--recfm TEXT keeps one record per line, but record {record.name} "
                          f"has binary fields ({fields}) whose bytes may be newlines: use "
                          "FB or VB")


def decode_chunk(plan: DecodePlan, chunk: RawChunk, framing: FramingOptions,
                 condition: Condition | None = None) -> DecodedBatch:
    """Decode the records of a chunk that meet ``condition`` (``--when``: the others are
    discarded, in neither the rows nor the rejects); fixed records are viewed in place, not
    copied. A TEXT line must be as long as the record (at most as long, with OCCURS
    DEPENDING ON): a line of another length is a reject, never a record read at the wrong
    offsets."""
    if framing.fixed:
        matrix = chunk.matrix(framing.lrecl or plan.record.size)
        lengths = None
    else:
        matrix = chunk.matrix(plan.record.size)
        lengths = chunk.lengths
    first: int | np.ndarray = chunk.first_record_no
    offsets = chunk.record_offsets
    if condition is not None:
        keep = condition.keep(plan.record, plan.options, matrix, chunk.first_record_no,
                              offsets, lengths)
        first = chunk.first_record_no + np.flatnonzero(keep)
        matrix, offsets = matrix[keep], offsets[keep]
        lengths = None if lengths is None else lengths[keep]
    return plan.decode(matrix, first, offsets, lengths, exact=framing.recfm == "TEXT",
                       too_long=framing.variable or framing.described)


def selected_chunks(buffer: memoryview, framing: FramingOptions, chunk_records: int,
                    window: Window, path: str) -> Iterator[tuple[RawChunk, int]]:
    """The file's chunks cut to the records a run reads (``--skip-records``,
    ``--load-records``), each with how many of its records were skipped before the window
    (a chunk wholly before it comes empty); framing stops at the window's end. Chunk ids
    are the file's, so a restart finds the same chunks."""
    for chunk in iter_chunks(buffer, framing, chunk_records, path):
        if window.after(chunk.first_record_no):
            return
        lo, hi = window.part(chunk.first_record_no, chunk.n_records)
        yield chunk.narrowed(lo, hi, framing.header, framing.footer), lo
