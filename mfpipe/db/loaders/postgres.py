"""PostgreSQL: binary COPY, from rows encoded by :mod:`mfpipe.db.loaders.pgcopy` (default)
or by ADBC's ``adbc_ingest`` (``--loader postgresql-adbc``).

Neither connection is in autocommit mode, so the COPYs of a chunk's staging rows, rejects
and ledger row form one transaction. SQLSTATE classes 08 (connection), 40 (rollback), 53
(resources), 57 (operator intervention, e.g. ``pg_terminate_backend``) are worth a retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from mfpipe.db.loaders.base import BulkLoader, Capabilities, LoadResult, preview, quoted
from mfpipe.db.loaders.pgcopy import CopyData, encode
from mfpipe.db.dialects.postgresql import READ_ONLY, iso_dates
from mfpipe.db.urls import libpq_uri, redact
from mfpipe.errors import (DatabaseUnavailableError, TerminalLoadError, TransientLoadError,
                           first_line)

_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")
_TRANSIENT_STATES = (READ_ONLY,)  # the server switched to read-only


def _kind(exc: Exception, operational: type) -> type[TransientLoadError | TerminalLoadError]:
    """Transient (retried) for connection, resource and read-only errors, by SQLSTATE."""
    state = getattr(exc, "sqlstate", None) or ""
    if state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES or isinstance(
            exc, operational):
        return TransientLoadError
    return TerminalLoadError


class AdbcLoader(BulkLoader):
    """Loads into PostgreSQL through ADBC (libpq, binary COPY encoded by the driver)."""

    capabilities = Capabilities(max_identifier_length=63, max_decimal_precision=1000,
                                native_bulk_path=True, concurrent_writers=True)
    paramstyle = "numeric_dollar"

    def __init__(self, url: str, show_values: bool = False) -> None:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi as dbapi

        self._errors = adbc_driver_manager
        self._show_values = show_values
        try:
            self._connection = dbapi.connect(libpq_uri(url))
            iso_dates(self._connection)  # the chunk probe hashes dates as text
        except adbc_driver_manager.Error as exc:
            raise DatabaseUnavailableError(f"{redact(url)}: {first_line(exc)}") from None
        self._cursor = self._connection.cursor()

    def load(self, table: str, batch: pa.RecordBatch | pa.Table) -> LoadResult:
        if batch.num_rows == 0:
            return LoadResult(table, 0)
        try:
            rows = self._cursor.adbc_ingest(table, batch, mode="append")
        except self._errors.Error as exc:
            error = _kind(exc, self._errors.OperationalError)
            raise error(table, -1, first_line(exc),
                        params_preview=preview(batch) if self._show_values else "") from None
        return LoadResult(table, rows if rows and rows > 0 else batch.num_rows)

    def fetch_one(self, sql: str, params: Any) -> Sequence[Any]:
        try:
            self._cursor.execute(sql, params)
            return self._cursor.fetchone()
        except self._errors.Error as exc:
            raise _kind(exc, self._errors.OperationalError)("<probe>", -1,
                                                            first_line(exc)) from None

    def commit(self) -> None:
        try:
            self._connection.commit()
        except self._errors.Error as exc:
            raise TransientLoadError("<commit>", -1, first_line(exc)) from None

    def rollback(self) -> None:
        try:
            self._connection.rollback()
        except self._errors.Error:
            pass  # a broken connection has rolled back already

    def close(self) -> None:
        try:
            self._cursor.close()
            self._connection.close()
        except self._errors.Error:
            pass


class PostgresCopyLoader(BulkLoader):
    """Loads into PostgreSQL through psycopg's binary COPY of rows built by :mod:`pgcopy`.

    The default: the rows are encoded in the processor processes (``prepare``), so the
    writer only streams bytes, where ADBC converts every value in the writer."""

    capabilities = Capabilities(max_identifier_length=63, max_decimal_precision=1000,
                                native_bulk_path=True, concurrent_writers=True)
    paramstyle = "pyformat"

    def __init__(self, url: str, show_values: bool = False) -> None:
        import psycopg

        self._psycopg = psycopg
        self._show_values = show_values
        try:
            self._connection = psycopg.connect(libpq_uri(url))
            iso_dates(self._connection)  # the chunk probe hashes dates as text
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(f"{redact(url)}: {first_line(exc)}") from None

    @staticmethod
    def prepare(batch: pa.RecordBatch) -> CopyData:
        return encode(batch)

    def load(self, table: str, batch: pa.RecordBatch | pa.Table | CopyData) -> LoadResult:
        if batch.num_rows == 0:
            return LoadResult(table, 0)
        rows = batch if isinstance(batch, CopyData) else encode(_one_batch(batch))
        names = ", ".join(quoted(n) for n in rows.columns)
        try:
            with self._connection.cursor() as cursor, cursor.copy(
                    f"COPY {quoted(table)} ({names}) FROM STDIN (FORMAT binary)") as copy:
                copy.write(rows.data)
        except self._psycopg.Error as exc:
            error = _kind(exc, self._psycopg.OperationalError)
            shown = self._show_values and not isinstance(batch, CopyData)
            raise error(table, -1, first_line(exc),
                        params_preview=preview(batch) if shown else "") from None
        return LoadResult(table, rows.num_rows)

    def fetch_one(self, sql: str, params: Any) -> Sequence[Any]:
        try:
            with self._connection.cursor() as cursor:
                row = cursor.execute(sql, params).fetchone()
        except self._psycopg.Error as exc:
            raise _kind(exc, self._psycopg.OperationalError)("<probe>", -1,
                                                             first_line(exc)) from None
        assert row is not None  # an aggregate without GROUP BY has one row
        return row

    def commit(self) -> None:
        try:
            self._connection.commit()
        except self._psycopg.Error as exc:
            raise TransientLoadError("<commit>", -1, first_line(exc)) from None

    def rollback(self) -> None:
        try:
            self._connection.rollback()
        except self._psycopg.Error:
            pass

    def close(self) -> None:
        self._connection.close()


def _one_batch(rows: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
    if isinstance(rows, pa.RecordBatch):
        return rows
    return rows.combine_chunks().to_batches()[0]
