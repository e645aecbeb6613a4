"""SQLite, the embedded default: one file, one writer at a time.

SQLite has no exact decimal type (NUMERIC affinity turns 123.45 into a REAL), so decimals are
stored as their canonical text, and dates as ``YYYY-MM-DD``: a cast is the canonical text,
and ``printf`` builds a whole row faster where no string holds U+0000. It has no MD5, so
every connection registers ``mfp_md5_64`` and the aggregate ``mfp_digest_sum``, which hashes
and sums (exactly: SQLite's own ``sum`` overflows on 64-bit values) in one Python call per
row.

Money: SQLite's ``sum`` would go through floating point for text, so a decimal of up to 18
digits is summed as its unscaled integer (the text without its point). That sum is exact,
but raises "integer overflow" past 2**63; it is then taken again in two halves of 32 bits,
each of which cannot overflow, joined in Python (:func:`mfpipe.db.digest.as_decimal`; about
twice the cost, so not the first try). Wider decimals use the exact aggregate ``mfp_dsum``,
one Python call per row.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeEngine

from mfpipe.codec.digest import EXACT, MASK64, SEPARATOR, text_digest
from mfpipe.db.dialects.base import Dialect, _Table, concatenated, upsert

_PRINTF_COLUMNS = 100  # columns per printf (127 arguments at most, the format first)


class SQLite(Dialect):
    name: ClassVar[str] = "sqlite"
    driver: ClassVar[str] = "sqlite"
    max_columns: ClassVar[int] = 2000
    # the index cost a third of the inserts; one writer at a time finds its rows by rowid
    chunk_index: ClassVar[bool] = False
    finds_chunks_by_rowid: ClassVar[bool] = True
    sums_in_halves: ClassVar[bool] = True
    measures_in_python: ClassVar[bool] = True

    def sqlalchemy(self, paramstyle: str | None = None) -> sa.engine.Dialect:
        return _compiler(paramstyle)

    def decimal_type(self, precision: int, scale: int) -> TypeEngine:
        return sa.Text()

    def canonical_text(self, column: sa.ColumnElement, arrow_type: pa.DataType
                       ) -> sa.ColumnElement:
        return sa.cast(column, sa.Text)  # decimals and dates are stored as canonical text

    def canonical_row(self, table: _Table, types: Mapping[str, pa.DataType],
                      columns: Sequence[str], nul_free: bool = False) -> sa.ColumnElement:
        """By ``printf('%s|%s|...')`` where no string holds U+0000: its ``%s`` writes NULL
        as the empty string, an integer in decimal and text as stored, in half the time of
        the ``coalesce(CAST(..)) || '|' || ...`` chain; but it stops at U+0000. One
        ``printf`` takes at most SQLITE_MAX_FUNCTION_ARG arguments (127 by default): wider
        rows join several."""
        if not nul_free:
            return super().canonical_row(table, types, columns)
        return concatenated(
            sa.func.printf(sa.literal(SEPARATOR.join(["%s"] * len(group)), sa.Text),
                           *(table.c[name] for name in group))
            for group in (columns[i:i + _PRINTF_COLUMNS]
                          for i in range(0, len(columns), _PRINTF_COLUMNS)))

    def row_digest(self, row: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.mfp_md5_64(row)

    def digest_sum(self, row: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.mfp_digest_sum(row)

    def exact_sum(self, column: sa.ColumnElement, arrow_type: pa.DataType,
                  halves: bool = False) -> sa.ColumnElement:
        decimal = pa.types.is_decimal(arrow_type)
        if decimal and arrow_type.precision > 18:
            return sa.func.mfp_dsum(column)
        unscaled = sa.cast(sa.func.replace(column, ".", ""), sa.Integer) if decimal else column
        scale = arrow_type.scale if decimal else 0
        if not halves:
            return sa.cast(sa.func.sum(unscaled), sa.Text).concat(f":{scale}")
        high = sa.func.sum(unscaled.op(">>")(32))
        low = sa.func.sum(unscaled.op("&")(0xFFFFFFFF))
        return sa.cast(high, sa.Text).concat(f":{scale}:").concat(sa.cast(low, sa.Text))

    def stored_decimal(self, value: object) -> object:
        return str(value)

    def ordered(self, column: sa.ColumnElement, arrow_type: pa.DataType) -> sa.ColumnElement:
        # decimals are text: compare them as numbers (text compares in binary order already)
        return sa.cast(column, sa.Numeric) if pa.types.is_decimal(arrow_type) else column

    def merge(self, final: sa.Table, source: sa.Select, key: Sequence[str]) -> sa.Executable:
        return upsert(sqlite.insert(final), source, key)

    def serialize(self, connection: sa.Connection, names: Iterable[str]) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the database's one write lock

    def engine(self, url: URL) -> sa.Engine:
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _setup)
        return engine

    def missing(self, url: URL) -> bool:
        database = url.database or ""
        return database not in ("", ":memory:") and not os.path.exists(database)


def register_functions(connection: sqlite3.Connection) -> None:
    """Give a SQLite connection the functions the hash and the exact sums use."""
    connection.create_function("mfp_md5_64", 1, _md5_64, deterministic=True)
    # typeshed's aggregate protocol takes int values only; these take text, as SQLite passes
    connection.create_aggregate("mfp_digest_sum", 1, _DigestSum)  # type: ignore[arg-type]
    connection.create_aggregate("mfp_dsum", 1, _DecimalSum)  # type: ignore[arg-type]


def _setup(connection: Any, _record: object) -> None:
    register_functions(connection)
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _md5_64(text: str | None) -> int | None:
    if text is None:
        return None
    value = text_digest(text)
    return value - (1 << 64) if value >> 63 else value  # SQLite integers are signed 64-bit


class _DigestSum:
    """The sum of the rows' digests mod 2**64, as text (SQLite integers are signed)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, text: str | None) -> None:
        if text is not None:
            self.total += text_digest(text)

    def finalize(self) -> str:
        return str(self.total & MASK64)


class _DecimalSum:
    """Exact sum of decimals stored as text (SQLite's sum goes via REAL)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | int | None) -> None:
        if value is not None:
            self.total = EXACT.add(self.total, Decimal(str(value)))

    def finalize(self) -> str:
        return str(self.total)


@cache
def _compiler(paramstyle: str | None) -> sa.engine.Dialect:
    return sqlite.dialect(paramstyle=paramstyle)


DIALECT = SQLite()
