"""The processor's work on one chunk: its records as a byte matrix, decoded by the plan."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from mfpipe.codec import DecodedBatch, DecodePlan
from mfpipe.codec.segments import NO_CARRY, Carry, Linked, ParentLink
from mfpipe.errors import ConfigError
from mfpipe.framing import ChunkSpan, FramingOptions, RawChunk, iter_chunks
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


def records_of(plan: DecodePlan, chunk: RawChunk, framing: FramingOptions
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """The chunk's records as a byte matrix (fixed records viewed in place, not copied),
    and their lengths (None for fixed records)."""
    if framing.fixed:
        return chunk.matrix(framing.lrecl or plan.record.size), None
    return chunk.matrix(plan.record.size), chunk.lengths


def link_chunk(link: ParentLink | None, plan: DecodePlan, chunk: RawChunk,
               framing: FramingOptions, carry: Carry) -> Linked | None:
    """The parents of a chunk's records (None when the plan's segment has none)."""
    if link is None:
        return None
    matrix, lengths = records_of(plan, chunk, framing)
    return link.link(matrix, chunk.first_record_no, chunk.record_offsets, lengths, carry)


def decode_chunk(plan: DecodePlan, chunk: RawChunk, framing: FramingOptions,
                 condition: Condition | None = None, carry: Carry = NO_CARRY,
                 link: ParentLink | None = None) -> DecodedBatch:
    """Decode the records of a chunk that meet ``condition`` (``--when``: the others are
    discarded, in neither the rows nor the rejects). A child segment's records are linked
    to their parents first (``link``, with ``carry``: the last parent of the chunks before),
    whatever the condition keeps: a discarded parent is still a parent."""
    keep = None
    if condition is not None:
        matrix, lengths = records_of(plan, chunk, framing)
        keep = condition.keep(plan.record, plan.options, matrix, chunk.first_record_no,
                              chunk.record_offsets, lengths)
    return decode_records(plan, chunk, framing, keep,
                          link_chunk(link, plan, chunk, framing, carry))


def decode_records(plan: DecodePlan, chunk: RawChunk, framing: FramingOptions,
                   keep: np.ndarray | None = None, linked: Linked | None = None
                   ) -> DecodedBatch:
    """Decode the chunk's records where ``keep`` (all when None; the others are in neither
    the rows nor the rejects), a child segment's ``linked`` to their parents. A TEXT line
    must be as long as the record (at most as long, with OCCURS DEPENDING ON): a line of
    another length is a reject, never a record read at the wrong offsets."""
    matrix, lengths = records_of(plan, chunk, framing)
    first: int | np.ndarray = chunk.first_record_no
    offsets = chunk.record_offsets
    if keep is not None:
        first = chunk.first_record_no + np.flatnonzero(keep)
        matrix, offsets = matrix[keep], offsets[keep]
        lengths = None if lengths is None else lengths[keep]
        if linked is not None:
            linked = linked._replace(parent_no=linked.parent_no[keep],
                                     keys=[k.filter(pa.array(keep)) for k in linked.keys])
    return plan.decode(matrix, first, offsets, lengths, exact=framing.recfm == "TEXT",
                       too_long=framing.variable or framing.described, linked=linked)


class Selected(NamedTuple):
    """A chunk cut to the records a run reads: its records (``chunk``), how many of the
    whole chunk's were skipped before the run's window, and the whole chunk's place in the
    file's sparse index (``span``), from which a task can frame it again by itself."""

    chunk: RawChunk
    skipped: int
    span: ChunkSpan


def with_carries(chunks: Iterable[Selected], plan: DecodePlan, framing: FramingOptions
                 ) -> Iterator[tuple[Selected, Carry]]:
    """``chunks`` in file order, each with the parent carried into it (:data:`NO_CARRY`
    when the plan's segment has no parent): the chunks are linked one after the other."""
    link = ParentLink.of(plan)
    carry = NO_CARRY
    for selected in chunks:
        yield selected, carry
        chunk = selected.chunk
        if link is not None and chunk.n_records:
            matrix, lengths = records_of(plan, chunk, framing)
            carry = link.link(matrix, chunk.first_record_no, chunk.record_offsets, lengths,
                              carry).carry


def selected_chunks(buffer: memoryview, framing: FramingOptions, chunk_records: int,
                    window: Window, path: str) -> Iterator[Selected]:
    """The file's chunks cut to the records a run reads (``--skip-records``,
    ``--load-records``; a chunk wholly before the window comes empty); framing stops at
    the window's end. Chunk ids are the file's, so a restart finds the same chunks."""
    for chunk in iter_chunks(buffer, framing, chunk_records, path):
        if window.after(chunk.first_record_no):
            return
        lo, hi = window.part(chunk.first_record_no, chunk.n_records)
        yield Selected(chunk.narrowed(lo, hi, framing.header, framing.footer), lo,
                       ChunkSpan.of(chunk, framing))
