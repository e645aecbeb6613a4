"""What the database holds for a run, measured once: rows, content hash and money totals.

Counting, summing and hashing the same rows in separate queries would read staging and final
several times over; reconciliation of a large run would then take longer than its load. So
each set of rows is measured in one scan (staging per chunk and worker, final as a whole),
the promoted set is staging itself whenever promotion took every staging row, and the
count, total and hash checks all compare these measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mfpipe.codec.digest import combine
from mfpipe.db.digest import (as_decimal, as_hash, canonical_row, digest_sum, exact_sum,
                              with_halves_on_overflow)

if TYPE_CHECKING:
    from mfpipe.recon.subject import RunSubject


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
        """The measure of the union of disjoint row sets."""
        parts = list(measures)
        totals: dict[str, Decimal] = {}
        for part in parts:
            for column, total in part.totals.items():
                totals[column] = totals.get(column, Decimal(0)) + total
        flagged = tuple(map(sum, zip(*(p.flagged for p in parts)))) if parts else ()
        return cls(sum(p.rows for p in parts), combine(p.content_hash for p in parts), totals,
                   flagged)


def measure(subject: RunSubject, table: sa.Table, where: sa.ColumnElement,
            group: tuple[sa.Column, ...] = (), flags: Sequence[sa.ColumnElement] = ()
            ) -> dict[tuple, Measure]:
    """One scan of ``table``'s selected rows, grouped by ``group`` (``{(): ...}`` if none),
    also counting the rows that meet each of ``flags`` (a business rule's violations: the
    rows are read once for all of them)."""
    dialect = subject.store.dialect
    hashed = subject.config.proof.hash_columns or ()
    money = subject.config.proof.money_columns or ()
    aggregates: list[sa.ColumnElement[Any]] = [sa.func.count()]
    if hashed:
        aggregates.append(digest_sum(canonical_row(table, subject.types, hashed, dialect,
                                                   subject.nul_free), dialect))
    aggregates += [sa.func.sum(sa.case((flag, 1), else_=0)) for flag in flags]

    def fetch(halves: bool) -> list[sa.Row]:
        sums = [exact_sum(table.c[m], subject.types[m], dialect, halves) for m in money]
        query = sa.select(*group, *aggregates, *sums).where(where)
        return _fetch(subject, query.group_by(*group) if group else query, bool(group))

    found = {}
    for row in with_halves_on_overflow(fetch):
        keys, values = tuple(row[:len(group)]), list(row[len(group):])
        count = int(values.pop(0))
        digest = as_hash(values.pop(0)) if hashed else 0
        flagged = tuple(int(values.pop(0) or 0) for _ in flags)  # sum() of no rows: NULL
        found[keys] = Measure(count, digest, {m: as_decimal(v) for m, v in zip(money, values)},
                              flagged)
    return found


def _fetch(subject: RunSubject, query: sa.Select, grouped: bool) -> list[sa.Row]:
    """The query's rows. Grouped on PostgreSQL, hashing the few groups (chunks, workers) is
    always the right plan; but right after a load staging has no statistics yet, and the
    planner, expecting a few hundred rows, sorts a million wide ones instead (a second of
    a 1M-record reconciliation, spilled to disk)."""
    if not grouped or subject.store.dialect != "postgresql":
        return subject.rows(query)
    with subject.store.connect() as c, c.begin():
        c.execute(sa.text("SET LOCAL enable_sort = off"))
        return list(c.execute(query))
