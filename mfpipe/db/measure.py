"""Measuring rows in SQL: count, content hash, exact money totals and rule breaches, in one
statement.

The same statement measures a chunk's staging rows inside the writer's transaction
(:mod:`mfpipe.db.probe`) and, for audits, whole tables at reconciliation
(:mod:`mfpipe.recon.measures`), so the two kinds of proof can never compute different things.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec.digest import EXACT, combine
from mfpipe.db.dialects.base import Dialect
from mfpipe.db.digest import as_decimal, as_hash
from mfpipe.layout import Category, RecordLayout


@dataclass(frozen=True)
class Measure:
    """Rows, content hash (sum of row digests mod 2**64) and exact totals of some rows, and
    how many of them meet each of the conditions the scan was asked to count (``flagged``)."""

    rows: int = 0
    content_hash: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    flagged: tuple[int, ...] = ()

    @classmethod
    def combined(cls, measures: Iterable[Measure]) -> Measure:
        """The measure of the union of disjoint row sets (totals added unrounded, whatever
        the thread's decimal context)."""
        parts = list(measures)
        totals: dict[str, Decimal] = {}
        for part in parts:
            for column, total in part.totals.items():
                totals[column] = EXACT.add(totals.get(column, Decimal(0)), total)
        flagged = tuple(map(sum, zip(*(p.flagged for p in parts)))) if parts else ()
        return cls(sum(p.rows for p in parts), combine(p.content_hash for p in parts), totals,
                   flagged)

    def proves(self, other: Measure) -> bool:
        """The same rows, hash and totals (the rule counts are the database's alone)."""
        return (self.rows, self.content_hash, self.totals) == (
            other.rows, other.content_hash, other.totals)


@dataclass(frozen=True)
class Measured:
    """What a measure adds up: the hashed and money columns of a table of these ``types``;
    ``nul_free``: no hashed string can hold U+0000 (SQLite then hashes faster)."""

    types: Mapping[str, pa.DataType]
    hashed: tuple[str, ...]
    money: tuple[str, ...]
    nul_free: bool

    @classmethod
    def of(cls, schema: pa.Schema, record: RecordLayout, hashed: Sequence[str],
           money: Sequence[str], low_values: str) -> Measured:
        """A run's measures. No hashed string can hold U+0000 when the run turned low-values
        in text fields into spaces or rejects (the default, unless ``low_values`` is keep)
        and no hashed column is national (PIC N)."""
        national = {f.column for f in record.fields if f.category is Category.NATIONAL}
        nul_free = low_values != "keep" and not national.intersection(hashed)
        return cls({f.name: f.type for f in schema}, tuple(hashed), tuple(money), nul_free)

    def select(self, table: sa.Table | sa.sql.FromClause, dialect: Dialect,
               group: Sequence[sa.ColumnElement] = (),
               flags: Sequence[sa.ColumnElement] = (), halves: bool = False) -> sa.Select:
        """``group``, then count, digest sum (if hashing), one count per flag and the exact
        sums (``halves``: see :attr:`Dialect.sums_in_halves`); add the WHERE."""
        aggregates: list[sa.ColumnElement[Any]] = [sa.func.count()]
        if self.hashed:
            aggregates.append(dialect.digest_sum(dialect.canonical_row(
                table, self.types, self.hashed, self.nul_free)))
        aggregates += [sa.func.sum(sa.case((flag, 1), else_=0)) for flag in flags]
        sums = [dialect.exact_sum(table.c[m], self.types[m], halves) for m in self.money]
        query = sa.select(*group, *aggregates, *sums)
        return query.group_by(*group) if group else query

    def read(self, values: Sequence[Any], flags: int) -> Measure:
        """The measure in a row of :meth:`select` (without its group columns)."""
        rest = list(values)
        count = int(rest.pop(0))
        digest = as_hash(rest.pop(0)) if self.hashed else 0
        flagged = tuple(int(rest.pop(0) or 0) for _ in range(flags))  # sum() of none: NULL
        return Measure(count, digest, {m: as_decimal(v) for m, v in zip(self.money, rest)},
                       flagged)
