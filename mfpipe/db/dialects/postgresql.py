"""PostgreSQL: psycopg 3 for control tables and COPY, ADBC for bulk loads.

Content hash: ``('x' || substr(md5(row), 1, 16))::bit(64)::bigint``, a signed 64-bit
integer whose sum (NUMERIC, never overflowing) is the same mod 2**64. ``numeric::text``
keeps exactly ``scale`` digits, and ``date::text`` is ``YYYY-MM-DD`` on mfpipe's connections
(:func:`iso_dates`), so a cast is the canonical text. Launchers serialise on advisory locks,
and a run's sessions carry its name (``application_name``) so a restart can end the ones a
dead launcher left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.engine import URL

from mfpipe.db.dialects.base import Dialect, upsert


READ_ONLY = "25006"  # SQLSTATE read_only_sql_transaction: a standby, or a switch-over


class PostgreSQL(Dialect):
    name: ClassVar[str] = "postgresql"
    driver: ClassVar[str] = "postgresql+psycopg"
    max_columns: ClassVar[int] = 1600

    def sqlalchemy(self, paramstyle: str | None = None) -> sa.engine.Dialect:
        # as psycopg 3 compiles it, whatever SQLAlchemy's default driver: its bind casts
        # (``$1::INTEGER``) type what ADBC and psycopg send
        return _compiler(paramstyle)

    def canonical_text(self, column: sa.ColumnElement, arrow_type: pa.DataType
                       ) -> sa.ColumnElement:
        return sa.cast(column, sa.Text)

    def row_digest(self, row: sa.ColumnElement) -> sa.ColumnElement:
        hex16 = sa.literal("x", sa.Text).concat(sa.func.substr(sa.func.md5(row), 1, 16))
        return sa.cast(sa.cast(hex16, postgresql.BIT(64)), sa.BigInteger)

    def ordered(self, column: sa.ColumnElement, arrow_type: pa.DataType) -> sa.ColumnElement:
        return column.collate("C") if pa.types.is_string(arrow_type) else column

    def merge(self, final: sa.Table, source: sa.Select, key: Sequence[str]) -> sa.Executable:
        return upsert(postgresql.insert(final), source, key)

    def serialize(self, connection: sa.Connection, names: Iterable[str]) -> None:
        for name in names:
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended(name, 0))))

    def session_url(self, url: URL, session: str) -> URL:
        return url.update_query_dict({"application_name": session})

    def sessions(self, session: str) -> sa.TextClause:
        return sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name "
                       "AND pid <> pg_backend_pid()").bindparams(name=session)

    def end_session(self, session_id: int) -> sa.TextClause:
        return sa.text("SELECT pg_terminate_backend(:pid)").bindparams(pid=session_id)

    def refuses_writes(self, error: BaseException) -> bool:
        return getattr(error, "sqlstate", None) == READ_ONLY

    def engine(self, url: URL) -> sa.Engine:
        engine = super().engine(url)
        sa.event.listen(engine, "connect", iso_dates)
        return engine

    def grouping_hint(self) -> sa.TextClause:
        # right after a load staging has no statistics yet, and the planner, expecting a
        # few hundred rows, sorts a million wide ones instead of hashing a few groups (a
        # second of a 1M-record reconciliation, spilled to disk)
        return sa.text("SET LOCAL enable_sort = off")

def iso_dates(connection: Any, _record: object = None) -> None:
    """Dates as text are ``YYYY-MM-DD`` whatever the server's default, on a PostgreSQL DBAPI
    connection (psycopg or ADBC): the reconciliation's canonical rows, and the writers'
    chunk probes, cast them with ``::text`` (a third of the cost of ``to_char``)."""
    cursor = connection.cursor()
    cursor.execute("SET DateStyle TO ISO, YMD")
    cursor.close()
    connection.commit()  # a SET in a transaction rolled back later would be undone


@cache
def _compiler(paramstyle: str | None) -> sa.engine.Dialect:
    return psycopg.dialect(paramstyle=paramstyle)


DIALECT = PostgreSQL()
