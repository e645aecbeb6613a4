"""Oracle: python-oracledb array DML from Arrow, or (opt-in) Direct Path Load.

``executemany`` takes the Arrow batch itself (PyCapsule interface) with ``batcherrors``, so a
row the database refuses is reported, not the whole chunk. ``direct_path_load`` is faster but
commits each table's rows on its own: with it, a chunk's rows are not measured inside its
transaction (the run's staging is scanned at publication instead), and a restart first
removes the rows of chunks missing from the ledger (``RunStore.remove_unledgered``).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from mfpipe.db.loaders.base import BulkLoader, Capabilities, LoadResult, preview, quoted
from mfpipe.db.urls import parse, redact
from mfpipe.errors import (DatabaseUnavailableError, LoadError, TerminalLoadError,
                           TransientLoadError)

# ORA codes worth a retry: connection lost or reset, resource busy, deadlock, timeouts.
_TRANSIENT = {28, 1012, 3113, 3114, 3135, 12170, 12514, 12537, 12541, 12543, 12571, 54, 60,
              4021, 30006}


def insert_statement(table: str, columns: list[str]) -> str:
    """The array-DML INSERT: names validated and quoted as Oracle keeps the tables mfpipe
    creates (upper case: SQLAlchemy creates lower-case names case-insensitively), values
    bound by position."""
    names = ", ".join(_name(c) for c in columns)
    binds = ", ".join(f":{i + 1}" for i in range(len(columns)))
    return f"INSERT INTO {_name(table)} ({names}) VALUES ({binds})"


def _translated(exc: Exception, table: str, shown: str = "") -> LoadError:
    """A python-oracledb error as a load error: transient (retried) by its ORA code."""
    (detail,) = exc.args
    code = getattr(detail, "code", 0)
    error = TransientLoadError if code in _TRANSIENT else TerminalLoadError
    return error(table, -1, str(detail), params_preview=shown)


def _name(name: str) -> str:
    return quoted(name).upper()


class OracleLoader(BulkLoader):
    """Loads into Oracle with python-oracledb (thin mode)."""

    capabilities = Capabilities(max_identifier_length=128, max_decimal_precision=38,
                                native_bulk_path=True, concurrent_writers=True)
    paramstyle = "named"

    def __init__(self, url: str, direct_path: bool = False, show_values: bool = False) -> None:
        import oracledb

        self._oracledb = oracledb
        self._direct_path = direct_path
        self._show_values = show_values
        parsed = parse(url)
        dsn = f"{parsed.host}:{parsed.port or 1521}/{parsed.database or ''}"
        try:
            self._connection = oracledb.connect(user=parsed.username, password=parsed.password,
                                                dsn=dsn)
        except oracledb.Error as exc:
            raise DatabaseUnavailableError(f"{redact(url)}: {exc}") from None
        self._schema = (parsed.username or "").upper()

    def load(self, table: str, batch: pa.RecordBatch | pa.Table) -> LoadResult:
        if batch.num_rows == 0:
            return LoadResult(table, 0)
        names = list(batch.schema.names)
        statement = insert_statement(table, names)  # validates every name first
        try:
            if self._direct_path:
                self._connection.direct_path_load(self._schema, table.upper(),
                                                  [n.upper() for n in names], batch)
                return LoadResult(table, batch.num_rows)
            cursor = self._connection.cursor()
            cursor.executemany(statement, batch, batcherrors=True)
            errors = cursor.getbatcherrors()
        except self._oracledb.Error as exc:
            raise _translated(exc, table, preview(batch) if self._show_values else ""
                              ) from None
        if errors:
            first = errors[0]
            raise TerminalLoadError(table, -1, f"{len(errors)} rows refused; row {first.offset}: "
                                               f"{first.message}")
        return LoadResult(table, batch.num_rows)

    def fetch_one(self, sql: str, params: Any) -> Sequence[Any]:
        try:
            with self._connection.cursor() as cursor:
                cursor.outputtypehandler = self._decimals  # exact sums, never floats
                cursor.execute(sql, params)
                row = cursor.fetchone()
        except self._oracledb.Error as exc:
            raise _translated(exc, "<probe>") from None
        assert row is not None  # an aggregate without GROUP BY has one row
        return row

    def _decimals(self, cursor: Any, metadata: Any) -> Any:
        """Fetch NUMBER as ``decimal.Decimal`` (python-oracledb's output type handler): a
        sum of amounts fetched as a float would lose its last digits."""
        if metadata.type_code is self._oracledb.DB_TYPE_NUMBER:
            return cursor.var(decimal.Decimal, arraysize=cursor.arraysize)
        return None

    def commit(self) -> None:
        self._connection.commit()

    def rollback(self) -> None:
        try:
            self._connection.rollback()
        except self._oracledb.Error:
            pass

    def close(self) -> None:
        try:
            self._connection.close()
        except self._oracledb.Error:
            pass
