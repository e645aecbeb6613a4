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

from mfpipe.db.dialects.base import Dialect

_VARCHAR2_MAX = 4000  # characters, under the default MAX_STRING_SIZE
_READ_ONLY = 16000  # ORA-16000: database open for read-only access


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

    def merge(self, final: sa.Table, source: sa.Select, key: Sequence[str]) -> sa.TextClause:
        """``MERGE`` using ``source`` as compiled for Oracle (its values stay bound), the
        names quoted by the dialect."""
        compiler = self.sqlalchemy()
        q = compiler.identifier_preparer.quote
        using = source.compile(dialect=compiler)
        names = [q(c.name) for c in source.selected_columns]
        keys = {q(k) for k in key}
        on = " AND ".join(f"f.{k} = s.{k}" for k in sorted(keys))
        sets = ", ".join(f"f.{n} = s.{n}" for n in names if n not in keys)
        return sa.text(
            f"MERGE INTO {q(final.name)} f USING ({using}) s ON ({on}) WHEN MATCHED THEN "
            f"UPDATE SET {sets} WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES "
            f"({', '.join(f's.{n}' for n in names)})").bindparams(**using.params)

    def refuses_writes(self, error: BaseException) -> bool:
        # python-oracledb's errors carry an _Error with the ORA number as ``code``
        code = getattr(error.args[0], "code", None) if error.args else None
        return code == _READ_ONLY

    def for_update(self, query: sa.Select) -> sa.Select:
        return query.with_for_update()

    def serialize(self, connection: sa.Connection, names: Iterable[str]) -> None:
        for name in names:
            _lock_row(connection, hashlib.sha256(name.encode()).hexdigest())


def _lock_row(connection: sa.Connection, name: str) -> None:
    """Lock the ``mfp_lock`` row of ``name``, creating it first if needed (a concurrent
    creator waits, then fails on the key; the row is there either way)."""
    from mfpipe.db.control import mfp_lock  # not needed to name types (``mfpipe layout``)

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
