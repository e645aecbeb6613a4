"""The chunk probe: a writer measures the staging rows it just wrote, before the chunk commits.

After a chunk's staging rows are written, and in the same transaction, the writer counts,
sums and hashes exactly those rows in the database (``run_id``, ``chunk_id`` and
``worker_id`` select them through the staging table's index, while they are hot in the
buffer cache; on SQLite, which has one writer at a time, through the rowids above the
largest one before the chunk, with no index to maintain) and compares the result with what
the processor decoded. A chunk commits only if the database holds what was decoded: a
trigger, a column default, a driver or a type that changed a value fails that chunk, and
the run, before anything of it is committed. The measure is committed with the chunk in
``mfp_chunk_proof``, so the staging side of the run's reconciliation is a sum over the
ledger instead of a scan of staging. (Oracle's Direct Path Load commits on its own, outside
any transaction to measure in: its runs have no probe, and staging is scanned instead.)

The probe is compiled once, in the launcher, into the SQL text and bind parameters of the
writer's driver (its ``paramstyle``), so writer processes need no layout or rules to run it.
SQLite's exact sums may overflow a chunk's 64-bit integer sum; the probe then runs its
second statement, which sums in halves (see :mod:`mfpipe.db.dialects.sqlite`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.db.dialects.base import Dialect
from mfpipe.db.digest import with_halves_on_overflow
from mfpipe.db.measure import Measure, Measured
from mfpipe.db.rows import PROOF_SCHEMA
from mfpipe.db.rules import Rule
from mfpipe.db.violations import row_rules
from mfpipe.errors import TerminalLoadError

_WHERE = ("mfp_run_id", "mfp_chunk_id", "mfp_worker_id", "mfp_after")
ROWID = sa.literal_column("rowid", sa.BigInteger)  # SQLite's own key of every row


@dataclass(frozen=True)
class Statement:
    """One compiled statement: its text, its constant parameters, and for positional
    paramstyles the order of its parameters."""

    sql: str
    constants: tuple[tuple[str, Any], ...]
    order: tuple[str, ...] | None
    binds: tuple[str, ...]  # the statement's own parameters among the run, chunk, worker ...

    @classmethod
    def compile(cls, query: sa.Select, dialect: Dialect, paramstyle: str) -> Statement:
        """``query`` as SQLAlchemy would execute it: lists expanded (``IN``), constants
        converted by their types' bind processors for the dialect (a decimal bound as
        SQLite's scan binds it), so that the probe counts exactly what a scan counts."""
        compiled = query.compile(dialect=dialect.sqlalchemy(paramstyle))
        state = compiled.construct_expanded_state(dict.fromkeys(_WHERE))
        # the processors SQLAlchemy's execution applies (sqlalchemy.engine.default)
        processors: dict[str, Any] = {**compiled._bind_processors, **state.processors}
        constants = tuple((k, processors[k](v) if k in processors else v)
                          for k, v in state.parameters.items() if k not in _WHERE)
        order = tuple(state.positiontup) if state.positiontup is not None else None
        binds = tuple(k for k in _WHERE if k in compiled.binds)
        return cls(state.statement, constants, order, binds)

    def parameters(self, values: dict[str, Any]) -> dict[str, Any] | list[Any]:
        """The statement's parameters, in the form its paramstyle takes: ``values`` for
        the ones it has (a driver may refuse a name its statement does not hold)."""
        named = {**dict(self.constants), **{k: values[k] for k in self.binds}}
        return [named[k] for k in self.order] if self.order is not None else named


@dataclass(frozen=True)
class ChunkProbe:
    """The measure of one chunk's staging rows, ready for a writer's connection."""

    statements: tuple[Statement, ...]  # the plain one; on SQLite also the one in halves
    measured: Measured
    rules: tuple[str, ...]  # the row-wise rules counted, in the order of ``flagged``
    mark: Statement | None = None  # SQLite: the largest rowid before the chunk's rows

    @classmethod
    def build(cls, staging: sa.Table, measured: Measured, rules: Sequence[Rule],
              dialect: Dialect, paramstyle: str) -> ChunkProbe:
        """The probe of ``staging``'s rows for ``rules`` (those that judge rows one by one
        are counted) on ``dialect``, compiled for a driver of ``paramstyle``."""
        flagged = row_rules(rules, staging, dict(measured.types), dialect)
        c = staging.c
        where = sa.and_(*(column == sa.bindparam(name, type_=column.type)
                          for column, name in zip((c.run_id, c.chunk_id, c.worker_id), _WHERE)))
        mark = None
        if dialect.finds_chunks_by_rowid:
            where = sa.and_(ROWID > sa.bindparam(_WHERE[3], type_=sa.BigInteger), where)
            mark = Statement.compile(sa.select(sa.func.coalesce(sa.func.max(ROWID), 0))
                                     .select_from(staging), dialect, paramstyle)
        flags = [condition for _, condition in flagged]
        halves = (False, True) if dialect.sums_in_halves and measured.money else (False,)
        statements = tuple(Statement.compile(measured.select(staging, dialect, (), flags, h)
                                             .where(where), dialect, paramstyle)
                           for h in halves)
        return cls(statements, measured, tuple(rule.name for rule, _ in flagged), mark)

    def before(self, fetch_one: Any) -> int | None:
        """What :meth:`measure` needs to know before the chunk's rows are written: on SQLite
        the largest rowid of staging (the chunk's rows get larger ones: one writer at a
        time, and no rowid is ever reused below the largest); None elsewhere."""
        if self.mark is None:
            return None
        return int(fetch_one(self.mark.sql, self.mark.parameters({}))[0])

    def measure(self, fetch_one: Any, run_id: str, chunk_id: int, worker_id: int,
                after: int | None = None) -> Measure:
        """The chunk's rows as the open transaction sees them (``after``: what
        :meth:`before` said); ``fetch_one(sql, params)`` runs a statement on the writer's
        connection (a loader's :meth:`fetch_one`)."""
        values = {_WHERE[0]: run_id, _WHERE[1]: chunk_id, _WHERE[2]: worker_id,
                  _WHERE[3]: after}

        def fetch(halves: bool) -> Sequence[Any]:
            statement = self.statements[halves]  # only SQLite's sums overflow: it has two
            return fetch_one(statement.sql, statement.parameters(values))

        row = with_halves_on_overflow(fetch, lambda exc: isinstance(exc, TerminalLoadError)
                                      and "integer overflow" in exc.message)
        return self.measured.read(row, len(self.rules))

    def ledger_row(self, run_id: str, chunk_id: int, found: Measure, measured_at: Any
                   ) -> pa.RecordBatch:
        """The ``mfp_chunk_proof`` row of a chunk's measure."""
        return pa.RecordBatch.from_pylist([{
            "run_id": run_id, "chunk_id": chunk_id, "rows_found": found.rows,
            "content_hash": str(found.content_hash),
            "totals": json.dumps({k: format(v, "f") for k, v in found.totals.items()},
                                 sort_keys=True),
            "flagged": json.dumps(dict(zip(self.rules, found.flagged)), sort_keys=True),
            "measured_at": measured_at}], schema=PROOF_SCHEMA)


def expected_measure(rows: int, content_hash: int, totals: dict[str, str]) -> Measure:
    """What a processor decoded, as a :class:`Measure` (its totals are decimal text)."""
    return Measure(rows, content_hash, {k: Decimal(v) for k, v in totals.items()})
