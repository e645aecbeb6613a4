"""What the core asks of a database, in one place: :class:`Dialect`.

A dialect object holds everything that differs between the databases mfpipe loads: the SQL
type of each Arrow type, how a stored value turns back into the canonical text the
processors hashed, how rows are digested and money summed exactly, the keyed promotion,
how launchers serialise themselves, how an engine connects, and the capabilities the core
reads (``chunk_index``, ``finds_chunks_by_rowid``, ...). The core never compares a
dialect's name; it asks the object. The defaults here are what PostgreSQL and Oracle share.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeEngine

from mfpipe.codec.digest import SEPARATOR
from mfpipe.errors import ConfigError
from mfpipe.layout import LENGTH_KEY

_Table = sa.Table | sa.sql.FromClause


class Dialect(abc.ABC):
    """One database as mfpipe uses it (one instance each: :func:`mfpipe.db.dialects.get`)."""

    name: ClassVar[str]
    driver: ClassVar[str]  # SQLAlchemy's drivername for the operator's URL
    max_columns: ClassVar[int]  # columns per table, by default
    # staging carries ``ix_<table>`` on (run_id, chunk_id), through which a writer's probe
    # finds its chunk's rows (:mod:`mfpipe.db.probe`)
    chunk_index: ClassVar[bool] = True
    # one writer at a time: a probe finds its chunk's rows above the largest rowid before them
    finds_chunks_by_rowid: ClassVar[bool] = False
    # an exact sum can overflow and is then taken again in two halves (:meth:`exact_sum`)
    sums_in_halves: ClassVar[bool] = False
    # measuring runs Python per row and holds the GIL: publication measures staging in a
    # process of its own rather than a thread
    measures_in_python: ClassVar[bool] = False

    @abc.abstractmethod
    def sqlalchemy(self, paramstyle: str | None = None) -> sa.engine.Dialect:
        """SQLAlchemy's dialect, without a driver (for compiling DDL, or statements for a
        driver of ``paramstyle``)."""

    # -- types ------------------------------------------------------------------------------

    def sql_type(self, field: pa.Field) -> TypeEngine:
        """The SQL type that holds ``field``'s values exactly."""
        t = field.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return self.text_type(int((field.metadata or {}).get(LENGTH_KEY, 0)) or None)
        if pa.types.is_decimal(t):
            return self.decimal_type(t.precision, t.scale)
        if pa.types.is_integer(t):
            return self.integer_type(t.bit_width)
        if pa.types.is_floating(t):
            return self.float_type()
        if pa.types.is_date32(t):
            return sa.Date()
        if pa.types.is_binary(t):
            return sa.LargeBinary()
        raise ConfigError(f"column {field.name} has Arrow type {t}, which mfpipe cannot store")

    def text_type(self, length: int | None) -> TypeEngine:
        return sa.String(length) if length else sa.Text()

    def decimal_type(self, precision: int, scale: int) -> TypeEngine:
        return sa.Numeric(precision, scale)

    def integer_type(self, bit_width: int) -> TypeEngine:
        return {16: sa.SmallInteger(), 32: sa.Integer(), 64: sa.BigInteger()}.get(
            bit_width, sa.BigInteger())

    def float_type(self) -> TypeEngine:
        return sa.Double()

    def type_name(self, field: pa.Field) -> str:
        """``field``'s SQL type as DDL writes it (``layout`` shows it)."""
        return str(self.sql_type(field).compile(dialect=self.sqlalchemy()))

    # -- the content hash and exact sums (see mfpipe.db.digest) ------------------------------

    @abc.abstractmethod
    def canonical_text(self, column: sa.ColumnElement, arrow_type: pa.DataType
                       ) -> sa.ColumnElement:
        """The canonical text of one stored value that is not a string (NULL stays NULL)."""

    def canonical_row(self, table: _Table, types: Mapping[str, pa.DataType],
                      columns: Sequence[str], nul_free: bool = False) -> sa.ColumnElement:
        """The hashed columns as text joined by ``|``, NULL as the empty string
        (``nul_free``: no stored string holds U+0000, which a dialect may use)."""
        texts = (column if pa.types.is_string(t) else self.canonical_text(column, t)
                 for column, t in ((table.c[n], types[n]) for n in columns))
        return concatenated(sa.func.coalesce(text, sa.literal("", sa.Text)) for text in texts)

    @abc.abstractmethod
    def row_digest(self, row: sa.ColumnElement) -> sa.ColumnElement:
        """The first 8 bytes of MD5(row) as an integer (signed where integers are)."""

    def digest_sum(self, row: sa.ColumnElement) -> sa.ColumnElement:
        """The aggregate of the row digests; reduce it with :func:`mfpipe.db.digest.as_hash`."""
        return sa.func.sum(self.row_digest(row))

    def exact_sum(self, column: sa.ColumnElement, arrow_type: pa.DataType,
                  halves: bool = False) -> sa.ColumnElement:
        """The aggregate that sums a numeric column exactly; read it with
        :func:`mfpipe.db.digest.as_decimal` (``halves``: see :attr:`sums_in_halves`)."""
        return sa.func.sum(column)

    # -- rules ------------------------------------------------------------------------------

    def stored_decimal(self, value: object) -> object:
        """A decimal rule value as the column stores it."""
        return value

    def ordered(self, column: sa.ColumnElement, arrow_type: pa.DataType) -> sa.ColumnElement:
        """The column as a range compares it: numbers as numbers, dates as dates, text in
        code-point order (not a locale's)."""
        return column

    # -- promotion, locks, sessions ---------------------------------------------------------

    @abc.abstractmethod
    def merge(self, final: sa.Table, source: sa.Select, key: Sequence[str]) -> sa.Executable:
        """The keyed promotion of ``source`` (the run's latest row per key, with
        ``last_run_id``: :func:`mfpipe.db.promote.promotion_source`) into ``final``: a row
        of a key already there is updated, the key itself never."""

    def for_update(self, query: sa.Select) -> sa.Select:
        """``query``, locking the rows it reads where the serialising lock does not already
        cover them (:meth:`serialize`)."""
        return query

    @abc.abstractmethod
    def serialize(self, connection: sa.Connection, names: Iterable[str]) -> None:
        """Begin a transaction that no other holder of any of ``names`` runs alongside
        (``names`` come sorted, so two holders never wait on each other); a dialect may
        exclude more than that (SQLite: every other writer of the database)."""

    def session_url(self, url: URL, session: str) -> URL:
        """``url`` naming its sessions ``session`` where the database can later find them by
        that name (:meth:`sessions`); unchanged elsewhere."""
        return url

    def sessions(self, session: str) -> sa.TextClause | None:
        """The query listing the ids of other open sessions named ``session``; None where
        sessions are not looked up."""
        return None

    def end_session(self, session_id: int) -> sa.TextClause:
        """The statement that ends a session :meth:`sessions` listed."""
        raise NotImplementedError(f"{self.name} sessions are not ended by mfpipe")

    # -- connecting and errors --------------------------------------------------------------

    def refuses_writes(self, error: BaseException) -> bool:
        """Is ``error`` (a driver's) this database taking no writes for now (a standby, a
        switch-over in progress): temporary, retried like a lost connection?"""
        return False

    def engine(self, url: URL) -> sa.Engine:
        """A SQLAlchemy engine for control tables and DDL (not for bulk data)."""
        return sa.create_engine(url, pool_pre_ping=True)

    def missing(self, url: URL) -> bool:
        """Is the database of ``url`` certainly not there (without connecting)?"""
        return False

    def grouping_hint(self) -> sa.TextClause | None:
        """A statement that tells the planner, for the open transaction, that a grouped
        measure of few groups (chunks, workers) should hash them; None where none is
        needed (:mod:`mfpipe.recon.measures`)."""
        return None

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"


def concatenated(parts: Iterable[sa.ColumnElement]) -> sa.ColumnElement:
    """The texts joined by ``|``."""
    items = list(parts)
    row = items[0]
    for part in items[1:]:
        row = row.concat(sa.literal(SEPARATOR, sa.Text)).concat(part)
    return row


def upsert(insert: Any, source: sa.Select, key: Sequence[str]) -> sa.Executable:
    """``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE`` (PostgreSQL's and SQLite's)."""
    names = [c.name for c in source.selected_columns]
    statement = insert.from_select(names, source)
    updates = {n: statement.excluded[n] for n in names if n not in key}
    return statement.on_conflict_do_update(index_elements=list(key), set_=updates)
