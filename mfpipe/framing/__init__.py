"""Bytes into records and records into chunks: F/FB, V/VB (RDW, BDW), TEXT lines.

Framing knows record lengths and descriptor words, never a layout. A chunk is a contiguous
span of the file holding whole records; it travels between processes as one buffer plus, for
variable records, two small arrays (payload starts and lengths), never record by record.

Fixed records and text lines are framed with NumPy. RDW chains are inherently sequential
(each length says where the next record starts), so that walk is a tight loop over
``struct.unpack_from``, one iteration per record, done by the single reader only.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mfpipe.errors import ConfigError, FramingError
from mfpipe.framing.lengths import CountedLength, CountField, LengthField, walk_described

__all__ = ["ChunkSpan", "CountField", "CountedLength", "FramingOptions", "LengthField", "RawChunk",
           "frame", "iter_chunks", "reframe", "write_records"]

RecordFormat = Literal["F", "FB", "V", "VB", "TEXT"]
_RDW = struct.Struct(">HH")
_RDW_LE = struct.Struct("<HH")
_BDW = struct.Struct(">I")
Buffer = bytes | memoryview  # a file's bytes, or a span's, as read or mapped


@dataclass(frozen=True, slots=True)
class FramingOptions:
    """How records are delimited in one file."""

    recfm: RecordFormat = "FB"
    lrecl: int | None = None  # required for F/FB (without a length field)
    rdw_little_endian: bool = False  # length in bytes 2-3, little-endian (Cobrix's switch)
    rdw_excludes_header: bool = False  # the RDW length does not count its own 4 bytes
    bdw: bool = False  # V/VB blocks carry a block descriptor word
    skip_header_bytes: int = 0
    skip_trailer_bytes: int = 0
    record_start_offset: int = 0  # bytes before every record's data (after any RDW)
    record_end_offset: int = 0  # bytes after every record's data
    length_field: LengthField | None = None  # F: each record's length is in the record
    counted_length: CountedLength | None = None  # F: as long as its ODO counts make it

    def __post_init__(self) -> None:
        if isinstance(self.length_field, dict):  # as stored with a run (JSON)
            object.__setattr__(self, "length_field", LengthField(**self.length_field))
        if isinstance(self.counted_length, dict):
            object.__setattr__(self, "counted_length", CountedLength.of(self.counted_length))
        if self.recfm not in ("F", "FB", "V", "VB", "TEXT"):
            raise ConfigError(f"recfm {self.recfm!r} is not one of F, FB, V, VB, TEXT")
        if self.described and self.recfm not in ("F", "FB"):
            raise ConfigError("records that describe their own length have no RDW: use "
                              "--recfm F")
        if self.length_field is not None and self.counted_length is not None:
            raise ConfigError("a record length field and ODO counts cannot both frame records")
        if self.recfm in ("F", "FB") and not self.described and not (
                self.lrecl and self.lrecl > 0):
            raise ConfigError(f"recfm {self.recfm} needs a positive lrecl")
        if min(self.skip_header_bytes, self.skip_trailer_bytes, self.record_start_offset,
               self.record_end_offset) < 0:
            raise ConfigError("skipped header, trailer and record offset bytes must not be "
                              "negative")

    @property
    def variable(self) -> bool:
        return self.recfm in ("V", "VB")

    @property
    def described(self) -> bool:
        """Records without an RDW that say their own length (a length field, ODO counts)."""
        return self.length_field is not None or self.counted_length is not None

    @property
    def fixed(self) -> bool:
        """Every record is LRECL bytes of data, back to back: framed by arithmetic."""
        return (self.recfm in ("F", "FB") and not self.described
                and not self.record_start_offset and not self.record_end_offset)

    @property
    def header(self) -> int:
        """The bytes before each record's data: an RDW's 4 and the record start offset."""
        return (4 if self.variable else 0) + self.record_start_offset

    @property
    def footer(self) -> int:
        """The bytes after each record's data (the record end offset)."""
        return self.record_end_offset


@dataclass(frozen=True)
class RawChunk:
    """Whole records from one contiguous span of the file, as one buffer."""

    chunk_id: int
    first_record_no: int  # 1-based
    byte_offset: int  # of ``data[0]`` in the file
    data: np.ndarray  # uint8, the span's bytes
    starts: np.ndarray  # int64, payload start of each record within ``data``
    lengths: np.ndarray  # int64, payload length of each record

    @property
    def n_records(self) -> int:
        return len(self.starts)

    @property
    def end_offset(self) -> int:
        return self.byte_offset + len(self.data)

    @property
    def record_offsets(self) -> np.ndarray:
        """File offsets of each record's payload."""
        return self.starts + self.byte_offset

    def narrowed(self, lo: int, hi: int, header: int = 0, footer: int = 0) -> RawChunk:
        """The chunk's records ``lo`` to ``hi`` (exclusive) as a chunk of their own span
        (``header`` and ``footer``: the bytes around each payload, 4 for an RDW)."""
        if (lo, hi) == (0, self.n_records):
            return self
        if lo == hi:
            empty = np.zeros(0, dtype=np.int64)
            return RawChunk(self.chunk_id, self.first_record_no + lo, self.byte_offset,
                            self.data[:0], empty, empty)
        start = int(self.starts[lo]) - header
        end = int(self.starts[hi - 1] + self.lengths[hi - 1]) + footer
        return RawChunk(self.chunk_id, self.first_record_no + lo, self.byte_offset + start,
                        self.data[start:end], self.starts[lo:hi] - start, self.lengths[lo:hi])

    def matrix(self, width: int) -> np.ndarray:
        """The records as a [records, width] byte matrix; short records padded with zeros."""
        n = self.n_records
        if n and (self.lengths == width).all() and (
                np.diff(self.starts) == width).all() and self.starts[0] == 0:
            return self.data[: n * width].reshape(n, width)
        columns = np.arange(width)
        index = self.starts[:, None] + columns[None, :]
        inside = columns[None, :] < self.lengths[:, None]
        padded = np.zeros((n, width), dtype=np.uint8)
        padded[inside] = self.data[index[inside]]
        return padded


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """A chunk's entry in a file's sparse index: where its whole records lie and how many
    there are, never where each starts. A task that reads the span's bytes frames them
    itself (:func:`reframe`), so a plan of a file of any size is a few numbers a chunk."""

    chunk_id: int
    first_record_no: int
    byte_offset: int
    byte_length: int
    records: int

    @classmethod
    def of(cls, chunk: RawChunk, options: FramingOptions) -> ChunkSpan:
        """The span of a chunk as :func:`iter_chunks` cut it: with BDW blocks, from its
        first block's descriptor word (a chunk holds whole blocks)."""
        bdw = 4 if options.variable and options.bdw else 0
        return cls(chunk.chunk_id, chunk.first_record_no, chunk.byte_offset - bdw,
                   len(chunk.data) + bdw, chunk.n_records)


def reframe(data: Buffer | np.ndarray, span: ChunkSpan, options: FramingOptions,
            path: str = "<input>") -> RawChunk:
    """The chunk at ``span``, framed from its own bytes alone (``data``: the span's bytes,
    read wherever they are): exactly the chunk :func:`iter_chunks` cut there. A
    span whose bytes frame otherwise (the file changed since it was planned) is a
    FramingError at the file offset where they differ."""
    view = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    if len(view) != span.byte_length:
        raise FramingError(path, span.byte_offset + len(view),
                           f"chunk {span.chunk_id} has {len(view)} bytes, not the "
                           f"{span.byte_length} it had when the file was planned: the file "
                           "changed", hint="load the file again once it is complete")
    inner = dataclasses.replace(options, skip_header_bytes=0, skip_trailer_bytes=0)
    try:
        if options.recfm == "TEXT":  # the span ends where its last line's data ends
            starts, lengths = _within_margins(*_frame_text(view, 0, len(view), closed=False),
                                              options, path)
        else:
            starts, lengths = frame(view.data, inner, path)
    except FramingError as exc:  # at the file's offset, not the span's
        raise FramingError(**{**exc.attrs, "offset": span.byte_offset + exc.attrs["offset"]}
                           ) from None
    if len(starts) != span.records:
        raise FramingError(path, span.byte_offset, f"chunk {span.chunk_id} frames into "
                                                   f"{len(starts)} records, not the "
                                                   f"{span.records} planned: the file changed",
                           hint="load the file again once it is complete")
    first = int(starts[0]) - options.header if len(starts) else 0  # past a BDW: as cut
    return RawChunk(span.chunk_id, span.first_record_no, span.byte_offset + first,
                    view[first:], starts - first, lengths)


def _bounds(size: int, options: FramingOptions, path: str) -> tuple[int, int]:
    begin, end = options.skip_header_bytes, size - options.skip_trailer_bytes
    if end < begin:
        skipped = begin + options.skip_trailer_bytes
        raise FramingError(path, 0, f"the file has {size} bytes, fewer than the {skipped} "
                                    "header and trailer bytes")
    return begin, end


def frame(buffer: Buffer, options: FramingOptions, path: str = "<input>"
          ) -> tuple[np.ndarray, np.ndarray]:
    """Payload starts and lengths of every record in ``buffer`` (file offsets)."""
    spans = list(_spans(buffer, options, path, 1 << 62))
    if not spans:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate([a for a, _ in spans]), np.concatenate([b for _, b in spans])


def _spans(buffer: Buffer, options: FramingOptions, path: str, limit: int
           ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(starts, lengths) of the data of at most ``limit`` records at a time, in file order:
    the records' own bytes less their start and end offsets."""
    for starts, lengths in _records(buffer, options, path, limit):
        yield _within_margins(starts, lengths, options, path)


def _within_margins(starts: np.ndarray, lengths: np.ndarray, options: FramingOptions,
                    path: str) -> tuple[np.ndarray, np.ndarray]:
    """Whole records' (starts, lengths) less their start and end offsets."""
    before, after = options.record_start_offset, options.record_end_offset
    if not (before or after):
        return starts, lengths
    lengths = lengths - before - after
    if (lengths < 0).any():
        at = int(starts[np.argmax(lengths < 0)])
        raise FramingError(path, at, f"a record of {int(lengths.min()) + before + after} "
                                     "bytes is shorter than the record start and end offsets "
                                     f"({before} + {after})",
                           hint="check --record-start-offset / --record-end-offset")
    return starts + before, lengths


def _records(buffer: Buffer, options: FramingOptions, path: str, limit: int
             ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(starts, lengths) of whole records (after any RDW), ``limit`` at a time."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    begin, end = _bounds(len(data), options, path)
    described = options.length_field or options.counted_length
    if described is not None:
        yield from walk_described(data, begin, end, described, path, limit,
                                  (options.record_start_offset, options.record_end_offset))
    elif options.recfm in ("F", "FB"):
        lrecl = options.lrecl or 0
        count = _count_fixed(begin, end, lrecl, path)
        for first in range(0, count, limit):
            starts = begin + lrecl * np.arange(first, min(first + limit, count), dtype=np.int64)
            yield starts, np.full(len(starts), lrecl, dtype=np.int64)
    elif options.recfm == "TEXT":  # newline positions of the whole file: 8 bytes a line
        starts, lengths = _frame_text(data, begin, end)
        for first in range(0, len(starts), limit):
            yield starts[first:first + limit], lengths[first:first + limit]
    else:
        yield from _walk_variable(buffer, begin, end, options, path, limit)


def _count_fixed(begin: int, end: int, lrecl: int, path: str) -> int:
    count, remainder = divmod(end - begin, lrecl)
    if remainder:
        raise FramingError(path, begin + count * lrecl,
                           f"{end - begin} bytes of records are not a multiple of LRECL {lrecl} "
                           f"(remainder {remainder}): the last record is truncated",
                           hint="check --lrecl, or --skip-header-bytes/--skip-trailer-bytes")
    return count


def _frame_text(data: np.ndarray, begin: int, end: int, closed: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
    """Lines between ``begin`` and ``end``; ``closed``: a newline at the end closes the
    last line (a file's), rather than opening an empty one (a chunk's span, which ends
    where its last line's data does)."""
    newlines = np.flatnonzero(data[begin:end] == 0x0A) + begin
    stops = newlines if closed and (end == begin or data[end - 1] == 0x0A) else \
        np.append(newlines, end)
    starts = np.concatenate(([begin], newlines + 1))[: len(stops)].astype(np.int64)
    stops = stops.astype(np.int64)
    before = data[np.maximum(stops - 1, 0)] if len(data) else np.zeros(len(stops), np.uint8)
    carriage = (stops > starts) & (before == 0x0D)
    if not closed and len(carriage):
        carriage[-1] = False  # the span's end is not a newline: its CR was left out already
    return starts, stops - starts - carriage


def _walk_variable(buffer: Buffer, begin: int, end: int, options: FramingOptions,
                   path: str, limit: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    offset = begin
    while offset < end:
        starts: list[int] = []
        lengths: list[int] = []
        if options.bdw:  # a chunk holds whole blocks
            while offset < end and len(starts) < limit:
                offset = _walk_block(buffer, offset, end, options, path, starts, lengths)
        else:
            offset = _walk_rdw(buffer, offset, end, options, path, starts, lengths, limit)
        yield np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64)


def _walk_rdw(buffer: Buffer, offset: int, end: int, options: FramingOptions,
              path: str, starts: list[int], lengths: list[int], limit: int) -> int:
    """Follow the RDW chain up to ``end`` or ``limit`` records; return where it stopped.

    This is the one loop per record in mfpipe: an RDW chain cannot be read out of order.
    """
    unpack = (_RDW_LE if options.rdw_little_endian else _RDW).unpack_from
    extra = 4 if options.rdw_excludes_header else 0
    little = options.rdw_little_endian
    count = 0
    while offset < end and count < limit:
        if offset + 4 > end:
            raise _bad_rdw(buffer, path, offset, f"{end - offset} bytes left, too few for an RDW")
        first, second = unpack(buffer, offset)
        length, reserved = (second + extra, first) if little else (first + extra, second)
        if length <= 4 or reserved:
            raise _bad_rdw(buffer, path, offset, f"RDW length {length - extra}" + (
                f" with non-zero reserved bytes {reserved:04X}" if reserved else " is too small"))
        if offset + length > end:
            raise _bad_rdw(buffer, path, offset, f"record of {length} bytes runs past the end "
                                                 f"of the data at {end}: truncated last record")
        starts.append(offset + 4)
        lengths.append(length - 4)
        offset += length
        count += 1
    return offset


def _walk_block(buffer: Buffer, offset: int, end: int, options: FramingOptions,
                path: str, starts: list[int], lengths: list[int]) -> int:
    """Read one BDW block (standard or extended) and the RDW records it holds."""
    if offset + 4 > end:
        raise _bad_rdw(buffer, path, offset, "too few bytes left for a BDW", "BDW")
    (word,) = _BDW.unpack_from(buffer, offset)
    extended = word >> 31
    size = word & 0x7FFFFFFF if extended else word >> 16
    if size <= 4 or (not extended and word & 0xFFFF):
        raise _bad_rdw(buffer, path, offset, f"BDW block length {size} is invalid", "BDW")
    if offset + size > end:
        raise _bad_rdw(buffer, path, offset, f"block of {size} bytes runs past the end", "BDW")
    _walk_rdw(buffer, offset + 4, offset + size, options, path, starts, lengths, 1 << 62)
    return offset + size


def _bad_rdw(buffer: Buffer, path: str, offset: int, message: str,
             kind: str = "RDW") -> FramingError:
    header = bytes(buffer[offset:offset + 4])
    hint = ("check --rdw-little-endian / --rdw-excludes-header, whether the file has BDW blocks "
            "(--bdw), and --recfm" if kind == "RDW" else "check --bdw and --recfm")
    return FramingError(path, offset, message, header_hex=",".join(f"{b:02X}" for b in header),
                        hint=hint)


def iter_chunks(buffer: Buffer, options: FramingOptions, records_per_chunk: int,
                path: str = "<input>") -> Iterator[RawChunk]:
    """Cut the buffer into chunks of whole records as the framing walks it (memory stays flat)."""
    if records_per_chunk < 1:
        raise ConfigError("records per chunk must be at least 1")
    data = np.frombuffer(buffer, dtype=np.uint8)
    header, footer = options.header, options.footer
    first_record_no = 1
    for chunk_id, (starts, lengths) in enumerate(_spans(buffer, options, path, records_per_chunk)):
        if not len(starts):
            continue
        span_start = int(starts[0]) - header
        span_end = int(starts[-1] + lengths[-1]) + footer
        yield RawChunk(chunk_id, first_record_no, span_start, data[span_start:span_end],
                       starts - span_start, lengths)
        first_record_no += len(starts)


def write_records(rows: np.ndarray, lengths: np.ndarray | None, options: FramingOptions,
                  block_size: int = 32760) -> bytes:
    """Frame records the way ``frame`` reads them back (used by ``gen`` and the tests)."""
    n, width = rows.shape
    if options.recfm in ("F", "FB"):
        if lengths is not None and (lengths != width).any():
            raise ConfigError("fixed-length records must all have the same length")
        return rows.tobytes()
    lengths = np.full(n, width, dtype=np.int64) if lengths is None else lengths.astype(np.int64)
    kept = np.arange(width)[None, :] < lengths[:, None]
    if options.recfm == "TEXT":
        framed = np.full(int(lengths.sum()) + n, 0x0A, dtype=np.uint8)
        starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    else:
        framed = np.zeros(int(lengths.sum()) + 4 * n, dtype=np.uint8)
        starts = np.concatenate(([0], np.cumsum(lengths + 4)[:-1])) + 4
        rdw_value = lengths + (0 if options.rdw_excludes_header else 4)
        if (rdw_value > 0xFFFF).any():
            raise ConfigError("a variable record is longer than an RDW can describe")
        high, low = (rdw_value >> 8).astype(np.uint8), (rdw_value & 0xFF).astype(np.uint8)
        at = 2 if options.rdw_little_endian else 0
        framed[starts - 4 + at] = low if options.rdw_little_endian else high
        framed[starts - 3 + at] = high if options.rdw_little_endian else low
    positions = starts[:, None] + np.arange(width)[None, :]
    framed[positions[kept]] = rows[kept]
    if options.bdw and options.variable:
        return _block(framed.tobytes(), lengths + 4, block_size)
    return framed.tobytes()


def _block(framed: bytes, sizes: np.ndarray, block_size: int) -> bytes:
    """Group RDW records into BDW blocks of at most ``block_size`` bytes (greedy, per record)."""
    out = bytearray()
    offset = 0
    block_start, used = 0, 4
    for size in sizes.tolist():
        if used + size > block_size and used > 4:
            out += _bdw(used) + framed[block_start:offset]
            block_start, used = offset, 4
        offset += size
        used += size
    out += _bdw(used) + framed[block_start:offset]
    return bytes(out)


def _bdw(size: int) -> bytes:
    """A block descriptor word; bit 0 set (extended, 31-bit length) when 15 bits are too few."""
    return _BDW.pack(size << 16 if size <= 0x7FFF else 0x80000000 | size)
