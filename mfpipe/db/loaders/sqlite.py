"""SQLite: the embedded default. ``executemany`` inside ``BEGIN IMMEDIATE``, WAL journal.

SQLite allows one writer at a time; ``BEGIN IMMEDIATE`` takes the write lock up front (and
waits up to the busy timeout), so concurrent writers queue instead of failing mid-chunk.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.db.loaders.base import (BulkLoader, Capabilities, LoadResult, as_python_friendly,
                                    quoted)
from mfpipe.db.dialects.sqlite import register_functions
from mfpipe.errors import TerminalLoadError, TransientLoadError

T = TypeVar("T")


class SqliteLoader(BulkLoader):
    """Loads into a SQLite file through the standard library driver."""

    capabilities = Capabilities(max_identifier_length=63, max_decimal_precision=None,
                                native_bulk_path=False, concurrent_writers=False)
    paramstyle = "named"

    def __init__(self, url: str) -> None:
        path = sa.engine.make_url(url).database or ":memory:"
        self._connection = sqlite3.connect(path, timeout=60, isolation_level=None,
                                           check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        register_functions(self._connection)  # the chunk probe's hash and sums
        self._in_transaction = False

    @staticmethod
    def prepare(batch: pa.RecordBatch) -> pa.Table:
        """Decimals and dates as text already in the processors: the writer is the
        bottleneck (one connection writes at a time)."""
        return as_python_friendly(batch)

    def load(self, table: str, batch: pa.RecordBatch | pa.Table) -> LoadResult:
        if batch.num_rows == 0:
            return LoadResult(table, 0)
        friendly = as_python_friendly(batch)  # a no-op when prepared
        names = ", ".join(quoted(n) for n in friendly.column_names)
        marks = ", ".join("?" * friendly.num_columns)
        rows = zip(*(column.to_pylist() for column in friendly.columns))
        self._writing(table, lambda: self._connection.executemany(
            f"INSERT INTO {quoted(table)} ({names}) VALUES ({marks})", rows))
        return LoadResult(table, friendly.num_rows)

    def fetch_one(self, sql: str, params: Any) -> Sequence[Any]:
        """In the write transaction, opened first if need be: the chunk probe's mark (the
        largest rowid) must be taken under the write lock its rows are written under."""
        row: Sequence[Any] = self._writing(
            "<probe>", lambda: self._connection.execute(sql, params).fetchone())
        return row

    def _writing(self, table: str, action: Callable[[], T]) -> T:
        """``action`` in the write transaction (``BEGIN IMMEDIATE`` takes the write lock),
        SQLite's errors translated: locked, busy or a full disk are worth another try; the
        rest (an exact sum's "integer overflow" among them) are not."""
        try:
            if not self._in_transaction:
                self._connection.execute("BEGIN IMMEDIATE")
                self._in_transaction = True
            return action()
        except sqlite3.OperationalError as exc:
            text = str(exc)
            error = TransientLoadError if any(
                word in text for word in ("locked", "busy", "is full")) else TerminalLoadError
            raise error(table, -1, text) from exc
        except sqlite3.DatabaseError as exc:
            raise TerminalLoadError(table, -1, str(exc)) from exc

    def commit(self) -> None:
        if self._in_transaction:
            try:
                self._connection.execute("COMMIT")
            except sqlite3.DatabaseError as exc:  # e.g. the disk filled up at the commit
                raise TerminalLoadError("<commit>", -1, str(exc)) from exc
            self._in_transaction = False

    def rollback(self) -> None:
        """Undo the open transaction; SQLite has already rolled back after some errors
        (a full disk), and a second ROLLBACK would hide that error behind its own."""
        if self._in_transaction and self._connection.in_transaction:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._connection.execute("ROLLBACK")
        self._in_transaction = False

    def close(self) -> None:
        self._connection.close()
