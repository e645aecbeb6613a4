"""The canonical row digest that processors and reconciliation share.

A chunk's content is summarised as ``(count, sum of the first 8 bytes of MD5(canonical row)
mod 2**64)``. A sum is order-independent, so it combines across chunks, workers and restarts,
and unlike XOR it does not cancel a duplicated row. The database computes the same sum in SQL
over staging and final (:mod:`mfpipe.db.digest`), so the canonical row must be text that
PostgreSQL, Oracle and SQLite produce identically from their stored values:

* each hashed column as text, in layout order, joined by ``|``; NULL is the empty string
  (Oracle cannot tell the two apart, so no database may);
* strings as stored; integers in decimal; decimals with exactly ``scale`` fractional digits
  (``0.05``, ``-123.40``: PostgreSQL's ``numeric::text``); dates as ``YYYY-MM-DD``.

Floats and raw binary columns are not hashed: their text forms differ between databases.
Their values are still counted and checked by the other checks.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mfpipe.errors import ConfigError

SEPARATOR = "|"
MASK64 = (1 << 64) - 1
# Money arithmetic that never rounds: Python's default context keeps 28 digits, and a total
# of 30-digit amounts (or their difference) would silently lose its last ones
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)

try:  # CPython's own MD5 (HACL*); absent on builds without it, e.g. some FIPS builds
    from _md5 import md5 as _MD5
except ImportError:  # pragma: no cover
    _MD5 = functools.partial(hashlib.md5, usedforsecurity=False)
_DIGEST = type(_MD5()).digest


def hashable(arrow_type: pa.DataType) -> bool:
    """Can a column of this type take part in the content hash on every database?"""
    return (pa.types.is_string(arrow_type) or pa.types.is_integer(arrow_type)
            or pa.types.is_decimal(arrow_type) or pa.types.is_date32(arrow_type))


def hash_columns(schema: pa.Schema, chosen: Sequence[str] | None = None) -> tuple[str, ...]:
    """The hashed columns: ``chosen`` (checked) or every hashable one, in layout order."""
    if chosen is None:
        return tuple(f.name for f in schema if hashable(f.type))
    for name in chosen:
        if name not in schema.names or not hashable(schema.field(name).type):
            raise ConfigError(f"hash column {name!r} is not a string, integer, decimal or date "
                              "column of the layout")
    return tuple(chosen)


def money_columns(schema: pa.Schema, chosen: Sequence[str] | None = None) -> tuple[str, ...]:
    """Columns with control totals: ``chosen`` (checked), else every decimal with decimals."""
    if chosen is None:
        return tuple(f.name for f in schema if pa.types.is_decimal(f.type) and f.type.scale > 0)
    for name in chosen:
        if name not in schema.names or not (pa.types.is_decimal(schema.field(name).type)
                                            or pa.types.is_integer(schema.field(name).type)):
            raise ConfigError(f"money column {name!r} is not a numeric column of the layout")
    return tuple(chosen)


def plain_decimal_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Decimals as text with exactly ``scale`` fraction digits and never an exponent
    (``0.0000000``, ``-0.000000012``: PostgreSQL's ``numeric::text``).

    Arrow's own cast writes a value below 10**-6 with an exponent once the scale passes 6
    (``0E-7``, ``1.2E-8``), so a zero in a ``PIC SV9(7)`` field would hash differently in
    the processors and in the database. Such a value's integer part is 0 and its mantissa's
    digits are its unscaled integer's: those rows are rewritten from them, vectorized."""
    text = pc.cast(values, pa.string())
    scale = values.type.scale
    if scale <= 6:
        return text
    exponent = pc.fill_null(pc.match_substring(text, "E"), False)
    if not pc.any(exponent).as_py():
        return text
    digits = pc.utf8_lpad(pc.replace_substring_regex(text, r"E.*|[-.]", ""), scale, "0")
    sign = pc.if_else(pc.starts_with(text, "-"), "-0.", "0.")
    return pc.if_else(exponent, pc.binary_join_element_wise(sign, digits, ""), text)


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A column's canonical text (see the module docstring); NULL stays NULL."""
    if pa.types.is_decimal(values.type):
        return plain_decimal_text(values)
    return pc.cast(values, pa.string())


def canonical_rows(batch: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> pa.Array:
    """The canonical text of every row (see the module docstring), as an Arrow string array."""
    texts = [pc.fill_null(as_text(batch.column(name)), "") for name in columns]
    if len(texts) == 1:
        return texts[0]
    return pc.binary_join_element_wise(*texts, SEPARATOR)


def row_digests(rows: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The first 8 bytes of each row's MD5, big-endian, as uint64.

    One MD5 call per row: neither NumPy nor Arrow has MD5. The calls run through ``map``
    (no Python frame per row) on the rows as ``bytes`` (no ``str`` objects to encode), with
    CPython's built-in MD5 where there is one: for ~100-byte rows it is about twice as fast as
    OpenSSL's, whose per-call context set-up dominates (0.39 against 0.71 s per million rows
    here). MD5 is MD5: the digests are the same either way.
    """
    values = rows.cast(pa.binary()).to_pylist()
    joined = b"".join(map(_DIGEST, map(_MD5, values)))
    return np.frombuffer(joined, dtype=">u8")[::2].astype(np.uint64)  # first 8 of each 16


def text_digest(text: str) -> int:
    """One row's digest from its canonical text: :func:`row_digests` for a single row (the
    SQLite functions of :mod:`mfpipe.db.dialects.sqlite` compute it per row)."""
    return int.from_bytes(_DIGEST(_MD5(text.encode()))[:8], "big")


def content_hash(batch: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> int:
    """Sum of the rows' digests mod 2**64 (0 for no rows)."""
    if batch.num_rows == 0 or not columns:
        return 0
    return int(row_digests(canonical_rows(batch, columns)).sum(dtype=np.uint64))


def combine(hashes: Iterable[int]) -> int:
    """The content hash of several chunks: their sum mod 2**64."""
    return sum(hashes) & MASK64


def column_totals(batch: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> dict[str, str]:
    """Exact sums of numeric columns as decimal text (NULLs count as nothing)."""
    totals = {}
    for name in columns:
        column = batch.column(name)
        scale = column.type.scale if pa.types.is_decimal(column.type) else 0
        if not pa.types.is_decimal256(column.type):  # widen: a chunk's sum needs more digits
            column = pc.cast(column, pa.decimal128(38, scale))
        total = pc.sum(column, min_count=0).as_py()
        totals[name] = format(total if total is not None else 0, "f")  # never 0E-7
    return totals
