"""Records without an RDW that describe their own length, back to back in the file.

Two kinds, as files from other utilities write them: a record length field (``LengthField``:
the record's length is a binary or digit field of the record itself), and records as long
as their OCCURS DEPENDING ON counts make them (``CountedLength``: fixed bytes plus, per
variable table, count x element size). Framing knows bytes, not COBOL: the layout is turned
into these offsets and sizes by the caller. Like an RDW chain the walk is sequential (each
length says where the next record starts), one step per record, done by the single reader.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mfpipe.errors import FramingError

Encoding = Literal["binary", "display", "packed"]


@dataclass(frozen=True, slots=True)
class LengthField:
    """``size`` bytes at ``offset`` from the record's start, big-endian binary or decimal
    digits (EBCDIC F0-F9 or ASCII 30-39), plus ``adjust``, give the record's length."""

    offset: int
    size: int
    binary: bool = True
    adjust: int = 0


@dataclass(frozen=True, slots=True)
class CountField:
    """One variable table's count: where it is, how it is written, what each element takes."""

    offset: int
    size: int
    encoding: Encoding
    element_size: int
    max_count: int


@dataclass(frozen=True, slots=True)
class CountedLength:
    """A record is ``base`` bytes plus, per count, count x element size."""

    base: int
    counts: tuple[CountField, ...]

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> CountedLength:
        """From its JSON form (as stored with a run)."""
        return cls(int(stored["base"]), tuple(CountField(**c) for c in stored["counts"]))


def walk_described(data: np.ndarray, begin: int, end: int,
                   described: LengthField | CountedLength, path: str, limit: int,
                   margins: tuple[int, int] = (0, 0)) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(starts, lengths) of whole records, ``limit`` at a time. ``margins``: the bytes
    before and after each record's data (``--record-start-offset``/``--record-end-offset``).
    The fields that give a length lie in the data, after the first margin. A length field
    gives the whole record's length, margins included (as the utilities that write one
    count); counted records are their layout's part, so both margins are added."""
    offset = begin
    before, after = margins
    extra = 0 if isinstance(described, LengthField) else before + after
    while offset < end:
        starts: list[int] = []
        lengths: list[int] = []
        while offset < end and len(starts) < limit:
            length, reach = _length(data, offset + before, end, described, path)
            length += extra
            if length < before + reach or offset + length > end:
                raise FramingError(path, offset, f"record length {length} " + (
                    "does not cover the field that gives it" if offset + length <= end else
                    f"runs past the end of the data at {end}"), hint=_hint(described))
            starts.append(offset)
            lengths.append(length)
            offset += length
        yield np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64)


def _hint(described: LengthField | CountedLength) -> str:
    return ("check --record-length-field and --record-length-adjust"
            if isinstance(described, LengthField) else
            "check --odo-framing, --encoding and the copybook")


def _length(data: np.ndarray, offset: int, end: int, described: LengthField | CountedLength,
            path: str) -> tuple[int, int]:
    """The length the record's data at ``offset`` gives, and how far its length fields
    reach; or the FramingError that says why there is none."""
    fields: list[tuple[int, int, str, int, int | None]]
    if isinstance(described, LengthField):
        fields = [(described.offset, described.size, "binary" if described.binary
                   else "display", 1, None)]
        length = described.adjust
    else:
        fields = [(c.offset, c.size, c.encoding, c.element_size, c.max_count)
                  for c in described.counts]
        length = described.base
    hint = _hint(described)
    reach = max(at + size for at, size, *_ in fields)
    if offset + reach > end:
        raise FramingError(path, offset, f"{end - offset} bytes left, too few for a record "
                                         "and the field that gives its length: truncated",
                           hint=hint)
    for at, size, encoding, times, most in fields:
        raw = data[offset + at:offset + at + size]
        value = _value(raw, encoding)
        if value is None or (most is not None and value > most):
            raise FramingError(path, offset, f"the field at byte {offset + at} gives no length"
                                             + ("" if value is None else
                                                f" (count {value} above its maximum {most})"),
                               header_hex=",".join(f"{b:02X}" for b in raw.tolist()), hint=hint)
        length += value * times
    return length, reach


def _value(raw: np.ndarray, encoding: str) -> int | None:
    """A length or count: big-endian binary, digits in either code page, or packed."""
    if encoding == "binary":
        return int.from_bytes(raw.tobytes(), "big")
    if encoding == "packed":
        nibbles = np.stack([raw >> 4, raw & 0x0F], axis=1).reshape(-1)
        digits, sign = nibbles[:-1], int(nibbles[-1])
        if (digits > 9).any() or sign not in (0xA, 0xC, 0xE, 0xF):
            return None
        return int("".join(str(d) for d in digits.tolist()) or "0")
    zones, digits = raw >> 4, raw & 0x0F
    if not (((zones == 0xF) | (zones == 0x3)).all() and (digits <= 9).all()):
        return None
    return int("".join(str(d) for d in digits.tolist()) or "0")
