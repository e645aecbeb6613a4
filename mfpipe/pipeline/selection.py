"""Which records of a file a run loads: SQL*Loader's SKIP, LOAD and WHEN.

``--skip-records N`` leaves the first N records out (skipped: not read), ``--load-records
N`` reads at most N records after those (the rest of the file is not read), and ``--when``
keeps the records whose fields meet a condition: the others are read but *discarded*,
counted apart from loaded and rejected and written to the discard file, so that read =
loaded + rejected + discarded still holds. The condition is evaluated on the fields it
names, decoded on their own, before the record is decoded: a record of another type whose
other fields would not decode (a header, a trailer) is discarded, not rejected.

A condition is ``COLUMN OP VALUE`` joined by ``AND``: OP is one of ``= != <> < <= > >=``,
VALUE a quoted text (``'D'``) compared with the trimmed text, or a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.codec.plan import in_segment
from mfpipe.errors import ConfigError
from mfpipe.layout import Category, RecordLayout

_TERM = re.compile(r"\s*([A-Za-z][\w-]*)\s*(=|!=|<>|<=|>=|<|>)\s*"
                   r"('(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?)\s*", re.ASCII)
_COMPARE = {"=": pc.equal, "!=": pc.not_equal, "<>": pc.not_equal, "<": pc.less,
            "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}


@dataclass(frozen=True)
class Window:
    """The records a run reads: after ``skip``, at most ``load`` (0: to the end)."""

    skip: int = 0
    load: int = 0

    def part(self, first_record_no: int, n: int) -> tuple[int, int]:
        """The slice [lo, hi) of a chunk's records (numbered from ``first_record_no``)
        inside the window; lo == hi when none is."""
        start = self.skip + 1
        end = self.skip + self.load if self.load else first_record_no + n - 1
        lo = min(max(start - first_record_no, 0), n)
        hi = max(min(end - first_record_no + 1, n), lo)
        return lo, hi

    def after(self, first_record_no: int) -> bool:
        """Is a chunk starting at ``first_record_no`` past the window's end?"""
        return bool(self.load) and first_record_no > self.skip + self.load


@dataclass(frozen=True)
class Condition:
    """A parsed ``--when``: (column, operator, value) terms, all of which must hold."""

    terms: tuple[tuple[str, str, str | Decimal], ...]

    @classmethod
    def parse(cls, text: str, record: RecordLayout, options: DecodeOptions) -> Condition:
        """Parse and check ``text`` against the record's columns (a bad one is 78)."""
        text_fields = {f.column for f in record.fields if f.category is not Category.NUMERIC}
        terms = []
        for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
            match = _TERM.fullmatch(part)
            if not match:
                raise ConfigError(f"--when {text!r}: {part!r} is not COLUMN OP VALUE (OP one "
                                  "of = != <> < <= > >=; text in quotes, 'D')")
            name, op, raw = match.groups()
            f = record.field(name.lower().replace("-", "_"))
            column = f.column
            if not in_segment(f, options):
                raise ConfigError(f"--when {text!r}: {column} is not a column of segment "
                                  f"{options.segment} (its records do not hold it)")
            if f.odo is not None or any(f.offset >= t.offset for t in record.odo):
                raise ConfigError(f"--when {text!r}: {column} lies in or after an OCCURS "
                                  "DEPENDING ON table, where its place moves with the count; "
                                  "name a field before the table")
            value: str | Decimal
            if raw.startswith("'"):
                value = raw[1:-1].replace("''", "'")
            else:
                try:
                    value = Decimal(raw)
                except InvalidOperation:
                    raise ConfigError(f"--when {text!r}: {raw} is not a number") from None
            if column in options.date_formats:
                raise ConfigError(f"--when {text!r}: {column} is decoded as a date; a "
                                  "condition compares text or numbers")
            if isinstance(value, str) != (column in text_fields):
                kind = "text: quote the value" if column in text_fields else "a number"
                raise ConfigError(f"--when {text!r}: {column} is {kind}")
            terms.append((column, op, value))
        return cls(tuple(terms))

    def keep(self, record: RecordLayout, options: DecodeOptions, matrix: np.ndarray,
             first_record_no: int, offsets: np.ndarray, lengths: np.ndarray | None
             ) -> np.ndarray:
        """Which records to decode (bool per row): those meeting the condition, and those
        whose named fields do not decode (the full decode then rejects them with their
        reason: bad data is never discarded as if it were another record type)."""
        columns = {column for column, _, _ in self.terms}
        fields = tuple(f for f in record.fields if f.column in columns)
        part = RecordLayout(record.name, record.table, record.size, fields)
        alone = replace(options, dates=(), branches=(), required=(), segment=None,
                        parents=())  # of other columns
        decoded = DecodePlan.compile(part, alone).decode(matrix, first_record_no, offsets,
                                                         lengths)
        held = np.ones(decoded.batch.num_rows, dtype=bool)
        for column, op, value in self.terms:
            values, scalar = _comparable(decoded.batch.column(column), value)
            held &= np.asarray(_COMPARE[op](values, scalar).fill_null(False))
        keep = np.zeros(len(matrix), dtype=bool)
        keep[decoded.record_no - first_record_no] = held
        invalid = decoded.rejects.column("record_no").to_numpy()
        keep[invalid - first_record_no] = True
        return keep


def _comparable(values: pa.Array, value: str | Decimal) -> tuple[pa.Array, pa.Scalar]:
    """The column and the value in one exact type: text as text, numbers as decimals wide
    enough for both (a value with more places than the column compares exactly, never
    rounded and never a cast error); floating point as floats."""
    if isinstance(value, str):
        return values, pa.scalar(value)
    if pa.types.is_floating(values.type):
        return values, pa.scalar(float(value))
    decimal = pa.types.is_decimal(values.type)
    column_scale = values.type.scale if decimal else 0
    whole = values.type.precision - column_scale if decimal else 19  # int64: 19 digits
    scale = min(max(column_scale, -int(value.as_tuple().exponent)), 38 - whole)
    exact = pa.decimal128(38, scale)
    return pc.cast(values, exact), pa.scalar(value.quantize(Decimal(1).scaleb(-scale)), exact)
