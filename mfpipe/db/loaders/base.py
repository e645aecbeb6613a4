"""The bulk loader interface: one connection, Arrow batches in, one transaction per chunk.

A writer calls ``load`` for the chunk's staging rows, its rejects and its ledger row, then
``commit``; ``rollback`` on any failure. Each dialect module uses its database's fastest
native path and translates driver errors into ``TransientLoadError`` (retry) or
``TerminalLoadError`` (stop). A loader is used by one thread at a time.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mfpipe.codec.digest import plain_decimal_text
from mfpipe.db.identifiers import check_identifier


@dataclass(frozen=True)
class Capabilities:
    """What a loader's database can do; the contract tests skip on these flags."""

    max_identifier_length: int
    max_decimal_precision: int | None  # None: decimals are stored as exact text
    native_bulk_path: bool
    concurrent_writers: bool  # can several connections load at once?


@dataclass(frozen=True)
class LoadResult:
    """Rows a ``load`` call wrote."""

    table: str
    rows: int


class BulkLoader(abc.ABC):
    """Loads Arrow batches into existing tables on one connection."""

    capabilities: Capabilities
    paramstyle: str  # of ``fetch_one``'s statements (PEP 249)

    @abc.abstractmethod
    def __init__(self, url: str, **options: Any) -> None:
        """Connect to the database at ``url`` (``options``: the loader's own, such as
        Oracle's ``direct_path``)."""

    @staticmethod
    def prepare(batch: pa.RecordBatch) -> Any:
        """``batch`` in the form ``load`` takes fastest, made away from the connection.

        Processors call it, in parallel, so that work which needs no connection (encoding
        rows for the wire) stays out of the writer. Anything with ``num_rows`` that
        ``load`` accepts; the batch itself by default."""
        return batch

    @abc.abstractmethod
    def load(self, table: str, batch: pa.RecordBatch | pa.Table) -> LoadResult:
        """Append ``batch`` (columns matched by name), or what ``prepare`` made of it, to
        ``table`` in the open transaction."""

    @abc.abstractmethod
    def fetch_one(self, sql: str, params: Any) -> Sequence[Any]:
        """The one row of a query run in the open transaction (the chunk probe's measure,
        which must see the rows just loaded); errors are translated as ``load``'s are."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Make everything loaded since the last commit permanent, all or nothing."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard everything loaded since the last commit."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; uncommitted work is rolled back by the database."""

    def __enter__(self) -> BulkLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quoted(name: str) -> str:
    """A validated identifier in double quotes (names are lower case, so quoting is exact)."""
    return '"' + check_identifier(name, "identifier") + '"'


def as_python_friendly(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """Decimals, dates and timestamps as exact ISO/decimal text, for drivers that bind text."""
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    columns = []
    for column in table.columns:
        if pa.types.is_decimal(column.type):
            column = plain_decimal_text(column)  # 123.45, 0.0000000 (never 0E-7)
        elif pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.string())  # 2024-02-29, 2026-11-22 08:07:52.157
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def preview(batch: pa.RecordBatch | pa.Table, rows: int = 3) -> str:
    """The first rows of a batch, for error messages that the operator asked to see."""
    return str(batch.slice(0, rows).to_pylist())
