"""Reconciliation aggregates in SQL: the content hash and exact sums, on every dialect.

The content hash uses the same canonical row and digest as :mod:`mfpipe.codec.digest`.
Each dialect turns a stored value back into the canonical text the processors hashed, joins
the columns with ``|`` (NULL as the empty string), takes the first 8 bytes of its MD5 as a
64-bit integer and sums them; the caller reduces the sum mod 2**64:

* PostgreSQL: ``('x' || substr(md5(row), 1, 16))::bit(64)::bigint``, a signed 64-bit
  integer whose sum (NUMERIC, never overflowing) is the same mod 2**64;
* Oracle: ``TO_NUMBER(SUBSTR(RAWTOHEX(STANDARD_HASH(row, 'MD5')), 1, 16), 'X...X')``;
* SQLite: has no MD5, so the connection registers ``mfp_md5_64`` and the aggregate
  ``mfp_digest_sum``, which hashes and sums (exactly: SQLite's own ``sum`` overflows on
  64-bit values) in one Python call per row; SQLite stores decimals and dates as their
  canonical text already.

Exact sums of money columns are ``SUM`` on PostgreSQL and Oracle. SQLite's ``sum`` would
go through floating point for text, so a decimal of up to 18 digits is summed as its
unscaled integer (the text without its point). That sum is exact, but raises "integer
overflow" past 2**63; :func:`with_halves_on_overflow` then sums it again in two halves of
32 bits, each of which cannot overflow, and the halves are joined in Python (about twice
the cost, so not the first try). Wider decimals use the exact aggregate ``mfp_dsum``, one
Python call per row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any, TypeVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mfpipe.codec.digest import MASK64, SEPARATOR, text_digest

# Money arithmetic that never rounds: Python's default context keeps 28 digits, and a total
# of 30-digit amounts (or their difference) would silently lose its last ones
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_PRINTF_COLUMNS = 100  # columns per SQLite printf (127 arguments at most, the format first)
T = TypeVar("T")


def canonical_text(column: sa.ColumnElement, arrow_type: pa.DataType, dialect: str
                   ) -> sa.ColumnElement:
    """The canonical text of one stored value (NULL stays NULL; the row coalesces it)."""
    if pa.types.is_string(arrow_type):
        return column
    if dialect == "sqlite":  # decimals and dates are stored as their canonical text already
        return sa.cast(column, sa.Text)
    if dialect == "oracle":
        if pa.types.is_date32(arrow_type):
            return sa.func.to_char(column, "YYYY-MM-DD")
        if pa.types.is_decimal(arrow_type) and arrow_type.scale > 0:
            whole = "9" * max(arrow_type.precision - arrow_type.scale - 1, 0) + "0"
            return sa.func.to_char(column, f"FM{whole}.{'0' * arrow_type.scale}")
        return sa.func.to_char(column)
    # PostgreSQL: numeric::text keeps exactly `scale` digits; date::text is YYYY-MM-DD on
    # mfpipe's connections (DateStyle ISO: mfpipe.db.urls)
    return sa.cast(column, sa.Text)


def canonical_row(table: sa.Table | sa.sql.FromClause, types: Mapping[str, pa.DataType],
                  columns: Sequence[str], dialect: str, nul_free: bool = False
                  ) -> sa.ColumnElement:
    """The hashed columns as text joined by ``|``, NULL as the empty string.

    ``nul_free`` says no stored string holds U+0000; SQLite then formats the row with
    ``printf`` (see :func:`_sqlite_printf_row`)."""
    if dialect == "sqlite" and nul_free:
        return _sqlite_printf_row(table, columns)
    parts: list[sa.ColumnElement] = []
    for i, name in enumerate(columns):
        if i:
            parts.append(sa.literal(SEPARATOR, sa.Text))
        parts.append(sa.func.coalesce(canonical_text(table.c[name], types[name], dialect),
                                      sa.literal("", sa.Text)))
    row = parts[0]
    for part in parts[1:]:
        row = row.concat(part)
    return row


def _sqlite_printf_row(table: sa.Table | sa.sql.FromClause, columns: Sequence[str]
                       ) -> sa.ColumnElement:
    """SQLite's canonical row by ``printf('%s|%s|...')``: its ``%s`` writes NULL as the empty
    string, an integer in decimal and text as stored (decimals and dates are stored as their
    canonical text), in half the time of the ``coalesce(CAST(..)) || '|' || ...`` chain.
    But ``%s`` stops at U+0000, so only for rows without it. One ``printf`` takes at most
    SQLITE_MAX_FUNCTION_ARG arguments (127 by default): wider rows join several."""
    parts = [sa.func.printf(sa.literal(SEPARATOR.join(["%s"] * len(group)), sa.Text),
                            *(table.c[name] for name in group))
             for group in (columns[i:i + _PRINTF_COLUMNS]
                           for i in range(0, len(columns), _PRINTF_COLUMNS))]
    row: sa.ColumnElement[str] = parts[0]
    for part in parts[1:]:
        row = row.concat(sa.literal(SEPARATOR, sa.Text)).concat(part)
    return row


def row_digest(row: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """The first 8 bytes of MD5(row) as an integer (signed on PostgreSQL and SQLite)."""
    if dialect == "postgresql":
        hex16 = sa.literal("x", sa.Text).concat(sa.func.substr(sa.func.md5(row), 1, 16))
        return sa.cast(sa.cast(hex16, postgresql.BIT(64)), sa.BigInteger)
    if dialect == "oracle":
        raw = sa.func.rawtohex(sa.func.standard_hash(row, "MD5"))
        return sa.func.to_number(sa.func.substr(raw, 1, 16), "X" * 16)
    return sa.func.mfp_md5_64(row)


def digest_sum(row: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """The SQL aggregate of the row digests; reduce the result with :func:`as_hash`."""
    if dialect == "sqlite":
        return sa.func.mfp_digest_sum(row)
    return sa.func.sum(row_digest(row, dialect))


def as_hash(value: Any) -> int:
    """A digest sum as fetched (NUMERIC, NUMBER or text; NULL for no rows) mod 2**64."""
    return int(value or 0) & MASK64


def _md5_64(text: str | None) -> int | None:
    if text is None:
        return None
    value = text_digest(text)
    return value - (1 << 64) if value >> 63 else value  # SQLite integers are signed 64-bit


class _DigestSum:
    """SQLite aggregate: the sum of the rows' digests mod 2**64, as text (SQLite integers
    are signed)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, text: str | None) -> None:
        if text is not None:
            self.total += text_digest(text)

    def finalize(self) -> str:
        return str(self.total & MASK64)


class _DecimalSum:
    """SQLite aggregate: exact sum of decimals stored as text (SQLite's sum goes via REAL)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | int | None) -> None:
        if value is not None:
            self.total = EXACT.add(self.total, Decimal(str(value)))

    def finalize(self) -> str:
        return str(self.total)


def exact_sum(column: sa.ColumnElement, arrow_type: pa.DataType, dialect: str,
              halves: bool = False) -> sa.ColumnElement:
    """The SQL aggregate that sums a numeric column exactly; read it with :func:`as_decimal`
    (see the module docstring for SQLite's, and its ``halves``)."""
    if dialect != "sqlite":
        return sa.func.sum(column)
    if pa.types.is_decimal(arrow_type) and arrow_type.precision > 18:
        return sa.func.mfp_dsum(column)
    unscaled = sa.cast(sa.func.replace(column, ".", ""), sa.Integer) if pa.types.is_decimal(
        arrow_type) else column
    scale = arrow_type.scale if pa.types.is_decimal(arrow_type) else 0
    if not halves:
        return sa.cast(sa.func.sum(unscaled), sa.Text).concat(f":{scale}")
    high = sa.func.sum(unscaled.op(">>")(32))
    low = sa.func.sum(unscaled.op("&")(0xFFFFFFFF))
    return sa.cast(high, sa.Text).concat(f":{scale}:").concat(sa.cast(low, sa.Text))


def with_halves_on_overflow(query: Callable[[bool], T],
                            overflowed: Callable[[Exception], bool] | None = None) -> T:
    """``query(False)``, whose SQLite sums are plain; ``query(True)``, summing in halves,
    if one of them passed 2**63 (``overflowed`` says whether an error is that; by default
    SQLAlchemy's)."""
    try:
        return query(False)
    except Exception as exc:
        if not (overflowed or _overflowed)(exc):
            raise
        return query(True)


def _overflowed(exc: Exception) -> bool:
    return isinstance(exc, sa.exc.OperationalError) and "integer overflow" in str(exc.orig)


def as_decimal(value: object) -> Decimal:
    """An exact sum as fetched (Decimal, int or text; SQLite's ``unscaled:scale`` or halves
    ``high:scale:low``; NULL for no rows)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, str) and ":" in value:
        parts = [int(part) for part in value.split(":")]
        unscaled = parts[0] if len(parts) == 2 else (parts[0] << 32) + parts[2]
        return Decimal(f"{unscaled}E-{parts[1]}")
    return Decimal(str(value))


def exact_sums(connection: sa.Connection, columns: Sequence[tuple[sa.ColumnElement,
                                                                  pa.DataType]],
               where: sa.ColumnElement) -> list[Decimal]:
    """Exact sums of numeric (column, Arrow type) over the selected rows (0 where none)."""
    dialect = connection.dialect.name

    def query(halves: bool) -> sa.Row:
        return connection.execute(sa.select(*(exact_sum(c, t, dialect, halves)
                                              for c, t in columns)).where(where)).one()

    return [as_decimal(v) for v in with_halves_on_overflow(query)]


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Give a SQLite connection the functions the reconciliation queries use."""
    connection.create_function("mfp_md5_64", 1, _md5_64, deterministic=True)
    # typeshed's aggregate protocol takes int values only; these take text, as SQLite passes
    connection.create_aggregate("mfp_digest_sum", 1, _DigestSum)  # type: ignore[arg-type]
    connection.create_aggregate("mfp_dsum", 1, _DecimalSum)  # type: ignore[arg-type]
