"""Oracle, through python-oracledb.

Types: decimals are NUMBER(p, s), integers NUMBER(n, 0), text VARCHAR2(n CHAR) up to 4000
characters and CLOB beyond, floats BINARY_DOUBLE. Content hash:
``TO_NUMBER(SUBSTR(RAWTOHEX(STANDARD_HASH(row, 'MD5')), 1, 16), 'X...X')``, with dates and
decimals turned back into their canonical text by ``TO_CHAR`` (a decimal keeps exactly
``scale`` digits). Keyed promotion is ``MERGE``. Launchers serialise on rows of ``mfp_lock``
(Oracle has no advisory locks a session can take by name without privileges).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cache
from typing import ClassVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.types import TypeEngine

from mfpipe.db.control import mfp_lock
from mfpipe.db.dialects.base import Dialect

_VARCHAR2_MAX = 4000  # characters, under the default MAX_STRING_SIZE


class Oracle(Dialect):
    name: ClassVar[str] = "oracle"
    driver: ClassVar[str] = "oracle+oracledb"
    max_columns: ClassVar[int] = 1000

    def sqlalchemy(self, paramstyle: str | None = None) -> sa.engine.Dialect:
        return _compiler(paramstyle)

    def text_type(self, length: int | None) -> TypeEngine:
        if length is None or length > _VARCHAR2_MAX:
            return sa.Text()  # CLOB
        return sa.String(length)  # VARCHAR2(n CHAR)

    def decimal_type(self, precision: int, scale: int) -> TypeEngine:
        return oracle.NUMBER(precision, scale, asdecimal=True)

    def integer_type(self, bit_width: int) -> TypeEngine:
        return oracle.NUMBER({8: 3, 16: 5, 32: 10, 64: 19}[bit_width], 0, asdecimal=False)

    def float_type(self) -> TypeEngine:
        return oracle.BINARY_DOUBLE()

    def canonical_text(self, column: sa.ColumnElement, arrow_type: pa.DataType
                       ) -> sa.ColumnElement:
        if pa.types.is_date32(arrow_type):
            return sa.func.to_char(column, "YYYY-MM-DD")
        if pa.types.is_decimal(arrow_type) and arrow_type.scale > 0:
            whole = "9" * max(arrow_type.precision - arrow_type.scale - 1, 0) + "0"
            return sa.func.to_char(column, f"FM{whole}.{'0' * arrow_type.scale}")
        return sa.func.to_char(column)

    def row_digest(self, row: sa.ColumnElement) -> sa.ColumnElement:
        raw = sa.func.rawtohex(sa.func.standard_hash(row, "MD5"))
        return sa.func.to_number(sa.func.substr(raw, 1, 16), "X" * 16)

    def merge(self, staging: sa.Table, final: sa.Table, run_id: str, key: Sequence[str],
              source: sa.Select) -> sa.TextClause:
        """``MERGE`` of the run's latest row per key (``source`` says the same for the
        other dialects); names quoted by the dialect, the run id bound."""
        q = self.sqlalchemy().identifier_preparer.quote
        columns = [c.name for c in final.columns if c.name != "last_run_id"]
        stg, fin = q(staging.name), q(final.name)
        keys = ", ".join(q(k) for k in key)
        using = (f"SELECT {', '.join(q(c) for c in columns)} FROM {stg} WHERE run_id = :run_id "
                 f"AND record_no IN (SELECT MAX(record_no) FROM {stg} WHERE run_id = :run_id "
                 f"GROUP BY {keys})")
        on = " AND ".join(f"f.{q(k)} = s.{q(k)}" for k in key)
        sets = ", ".join([*(f"f.{q(c)} = s.{q(c)}" for c in columns if c not in key),
                          "f.last_run_id = :run_id"])
        inserted = ", ".join(f"s.{q(c)}" for c in columns)
        return sa.text(
            f"MERGE INTO {fin} f USING ({using}) s ON ({on}) WHEN MATCHED THEN UPDATE SET "
            f"{sets} WHEN NOT MATCHED THEN INSERT ({', '.join(q(c) for c in columns)}, "
            f"last_run_id) VALUES ({inserted}, :run_id)").bindparams(run_id=run_id)

    def for_update(self, query: sa.Select) -> sa.Select:
        return query.with_for_update()

    def serialize(self, connection: sa.Connection, names: Iterable[str]) -> None:
        for name in names:
            _lock_row(connection, hashlib.sha256(name.encode()).hexdigest())


def _lock_row(connection: sa.Connection, name: str) -> None:
    """Lock the ``mfp_lock`` row of ``name``, creating it first if needed (a concurrent
    creator waits, then fails on the key; the row is there either way)."""
    try:
        with connection.begin_nested():
            connection.execute(mfp_lock.insert().values(name=name))
    except sa.exc.IntegrityError:
        pass
    connection.execute(sa.select(mfp_lock.c.name).where(mfp_lock.c.name == name)
                       .with_for_update())


@cache
def _compiler(paramstyle: str | None) -> sa.engine.Dialect:
    return oracle.dialect(paramstyle=paramstyle)


DIALECT = Oracle()
