"""What the database holds for a run, measured once: rows, content hash and money totals.

Counting, summing and hashing the same rows in separate queries would read staging and final
several times over; reconciliation of a large run would then take longer than its load. So
each set of rows is measured in one scan (staging per chunk and worker, final as a whole),
the promoted set is staging itself whenever promotion took every staging row, and the
count, total and hash checks all compare these measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from mfpipe.db.digest import with_halves_on_overflow
from mfpipe.db.measure import Measure

if TYPE_CHECKING:
    from mfpipe.recon.subject import RunSubject


def measure(subject: RunSubject, table: sa.Table, where: sa.ColumnElement,
            group: tuple[sa.Column, ...] = (), flags: Sequence[sa.ColumnElement] = ()
            ) -> dict[tuple, Measure]:
    """One scan of ``table``'s selected rows, grouped by ``group`` (``{(): ...}`` if none),
    also counting the rows that meet each of ``flags`` (a business rule's violations: the
    rows are read once for all of them)."""
    dialect = subject.store.dialect
    measured = subject.measured

    def fetch(halves: bool) -> list[sa.Row]:
        query = measured.select(table, dialect, group, flags, halves).where(where)
        return _fetch(subject, query, bool(group))

    return {tuple(row[:len(group)]): measured.read(row[len(group):], len(flags))
            for row in with_halves_on_overflow(fetch)}


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
