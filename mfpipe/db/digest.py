"""Reconciliation aggregates in SQL: the content hash and exact sums, on every dialect.

The content hash uses the same canonical row and digest as :mod:`mfpipe.codec.digest`.
Each dialect turns a stored value back into the canonical text the processors hashed, joins
the columns with ``|`` (NULL as the empty string), takes the first 8 bytes of its MD5 as a
64-bit integer and sums them; the caller reduces the sum mod 2**64:

* PostgreSQL: ``('x' || substr(md5(row), 1, 16))::bit(64)::bigint``, a signed 64-bit
  integer whose sum (NUMERIC, never overflowing) is the same mod 2**64;
* Oracle: ``TO_NUMBER(SUBSTR(RAWTOHEX(STANDARD_HASH(row, 'MD5')), 1, 16), 'X...X')``;
* SQLite: has no MD5, so the connection registers ``mfp_md5_64`` and the exact aggregate
  ``mfp_sum64`` (SQLite's own ``sum`` overflows on 64-bit values); SQLite stores decimals
  and dates as their canonical text already.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

SEPARATOR = "|"
MASK64 = (1 << 64) - 1


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
                  columns: Sequence[str], dialect: str) -> sa.ColumnElement:
    """The hashed columns as text joined by ``|``, NULL as the empty string."""
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
        return sa.func.mfp_sum64(row_digest(row, dialect))
    return sa.func.sum(row_digest(row, dialect))


def as_hash(value: object) -> int:
    """A digest sum as fetched (NUMERIC, NUMBER or text; NULL for no rows) mod 2**64."""
    return int(value or 0) & MASK64


def _md5_64(text: str | None) -> int | None:
    if text is None:
        return None
    value = int.from_bytes(hashlib.md5(text.encode(), usedforsecurity=False).digest()[:8], "big")
    return value - (1 << 64) if value >> 63 else value  # SQLite integers are signed 64-bit


class _Sum64:
    """SQLite aggregate: exact sum mod 2**64, returned as text (SQLite integers are signed)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, value: int | None) -> None:
        if value is not None:
            self.total += value

    def finalize(self) -> str:
        return str(self.total & MASK64)


class _DecimalSum:
    """SQLite aggregate: exact sum of decimals stored as text (SQLite's sum goes via REAL)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | int | None) -> None:
        if value is not None:
            self.total += Decimal(str(value))

    def finalize(self) -> str:
        return str(self.total)


def exact_sum(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """The SQL aggregate that sums a numeric column exactly; read it with :func:`as_decimal`."""
    return sa.func.mfp_dsum(column) if dialect == "sqlite" else sa.func.sum(column)


def as_decimal(value: object) -> Decimal:
    """An exact sum as fetched (Decimal, int or text; NULL for no rows)."""
    return Decimal(str(value)) if value is not None else Decimal(0)


def exact_sums(connection: sa.Connection, columns: Sequence[sa.ColumnElement],
               where: sa.ColumnElement) -> list[Decimal]:
    """Exact sums of numeric columns over the selected rows (0 where there are none)."""
    dialect = connection.dialect.name
    row = connection.execute(sa.select(*(exact_sum(c, dialect) for c in columns))
                             .where(where)).one()
    return [as_decimal(v) for v in row]


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Give a SQLite connection the functions the reconciliation queries use."""
    connection.create_function("mfp_md5_64", 1, _md5_64, deterministic=True)
    connection.create_aggregate("mfp_sum64", 1, _Sum64)
    connection.create_aggregate("mfp_dsum", 1, _DecimalSum)
