"""What the database holds for a run, measured once: rows, content hash and money totals.

The measures are values (:class:`StagingSide`, :class:`Measurements`), taken by the
functions here at a time the caller chooses, and the checks read them without querying
again (only a failed check looks further, to name the chunks, records or keys that differ).
Publication takes the staging side on a connection of its own while promotion writes, and
the final side inside the publishing transaction (:mod:`mfpipe.recon.publish`); an audit
(``mfpipe reconcile``) scans both, one after the other. The rows promotion takes, where they
are not all of staging (a key repeats), are measured with the staging side, outside the
publishing transaction: a staging row changed between that measure and promotion's read
makes the final side differ from it, so a change can fail the checks but never pass them.

Counting, summing and hashing the same rows in separate queries would read staging and final
several times over; reconciliation of a large run would then take longer than its load. So
each set of rows is measured in one scan (staging per chunk and worker, final as a whole),
or staging not at all where each chunk's writer measured its rows inside the chunk's
transaction (``mfp_chunk_proof``); the promoted set is staging itself whenever promotion
takes every staging row, and the count, total and hash checks all compare these measures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from mfpipe.db.digest import with_halves_on_overflow
from mfpipe.db.measure import Measure
from mfpipe.db.rules import Rule
from mfpipe.db.runs import RunStore
from mfpipe.db.violations import Violations, violations
from mfpipe.recon.model import PROOF_CHUNK, PROOF_PUBLISH, PROOF_SCAN
from mfpipe.recon.subject import RunSubject


@dataclass(frozen=True)
class StagingSide:
    """A run's staging rows as measured once: per (chunk_id, worker_id) and in all, how they
    were measured (``proof``: in the chunks' transactions, or by a scan), the rows promotion
    takes, and each business rule's violations."""

    chunks: dict[tuple[int, int], Measure]
    proof: str
    staged: Measure
    promoted: Measure
    findings: list[tuple[Rule, Violations]]

    def by(self, part: str) -> dict[int, Measure]:
        """The staging rows per ``chunk`` or per ``worker``."""
        index = ("chunk", "worker").index(part)
        groups: dict[int, list[Measure]] = {}
        for key, measured in self.chunks.items():
            groups.setdefault(key[index], []).append(measured)
        return {k: Measure.combined(v) for k, v in groups.items()}


@dataclass(frozen=True)
class Measurements:
    """What the checks compare: the staging side, and the run's final rows with how they
    were measured (inside the publishing transaction, or by a later scan)."""

    staging: StagingSide
    final: Measure
    final_proof: str


def measure_run(subject: RunSubject) -> Measurements:
    """Both sides by a scan each (an audit: whatever the chunks proved)."""
    return Measurements(measure_staging(subject, rescan=True), *measure_final(subject))


def measure_final(subject: RunSubject) -> tuple[Measure, str]:
    """The run's final rows, and how they were measured: through the subject's connection
    (the publishing transaction, which alone sees the promoted rows) if it has one."""
    return (measure(subject, subject.final, subject.in_final)[()],
            PROOF_PUBLISH if subject.connection is not None else PROOF_SCAN)


def measure_staging(subject: RunSubject, rescan: bool = False) -> StagingSide:
    """The staging side: the chunks' proofs summed, or (``rescan``, or a chunk without a
    proof) one scan grouped by chunk and worker, which also counts the row-wise rules'
    breaches.

    Promotion taking another number of rows than the chunks proved means a key repeats
    (promotion takes a subset of staging, measured by a scan) or staging changed after its
    chunks committed (a row deleted, or one added): staging is then scanned too, so that
    neither can pass unseen on both sides at once."""
    proved = None if rescan else proved_chunks(subject)
    chunks = proved if proved is not None else _scanned_chunks(subject)
    staged = _all_of(subject, chunks)
    taken = (int(subject.scalar(sa.select(sa.func.count()).where(subject.promoted)))
             if subject.config.target.key else staged.rows)
    if proved is not None and taken != staged.rows:
        proved, chunks = None, _scanned_chunks(subject)
        staged = _all_of(subject, chunks)
    promoted = staged if taken == staged.rows else measure(subject, subject.staging,
                                                            subject.promoted)[()]
    return StagingSide(chunks, PROOF_SCAN if proved is None else PROOF_CHUNK, staged, promoted,
                       _findings(subject, staged))


def proved_chunks(subject: RunSubject) -> dict[tuple[int, int], Measure] | None:
    """The run's staging rows per (chunk_id, worker_id) as each chunk's writer measured them
    inside the chunk's transaction (``mfp_chunk_proof``), with the row-wise rules'
    violations; None when a chunk has no such measure (a run loaded by an earlier mfpipe,
    or by Oracle's direct path)."""
    proofs = subject.store.chunk_proofs(subject.run_id, subject.connection)
    rules = [rule.name for rule, _ in subject.row_rules]
    if {c.chunk_id for c in subject.ledger} != set(proofs) or any(
            not set(rules) <= set(p.flagged) for p in proofs.values()):
        return None
    return {(c.chunk_id, c.worker_id): proofs[c.chunk_id].measure(rules)
            for c in subject.ledger}


def staging_side(url: str, run_id: str) -> tuple[StagingSide, float]:
    """:func:`measure_staging` of a run from a store of its own, with the CPU seconds its
    process has used: the launcher takes it in another thread, or where measuring runs
    Python per row (SQLite) in another process, so as not to hold the GIL the launcher
    needs for the final side."""
    store = RunStore(url, run_id)
    try:
        return measure_staging(RunSubject.load(store, run_id)), time.process_time()
    finally:
        store.close()


def _scanned_chunks(subject: RunSubject) -> dict[tuple[int, int], Measure]:
    c = subject.staging.c
    flags = [condition for _, condition in subject.row_rules]
    return {(int(k[0]), int(k[1])): m for k, m in measure(
        subject, subject.staging, subject.in_staging, (c.chunk_id, c.worker_id), flags).items()}


def _all_of(subject: RunSubject, chunks: dict[tuple[int, int], Measure]) -> Measure:
    """All of the run's staging rows (an empty file's run has none: zero rows, zero
    totals, no rule broken)."""
    if not chunks:
        return Measure(0, 0, {m: Decimal(0) for m in subject.measured.money},
                       (0,) * len(subject.row_rules))
    return Measure.combined(chunks.values())


def _findings(subject: RunSubject, staged: Measure) -> list[tuple[Rule, Violations]]:
    """Each rule's violations among the run's staging rows (every record that was loaded,
    duplicates included); the row-wise rules' counts come from the staging measure."""
    counted = dict(zip((rule.name for rule, _ in subject.row_rules), staged.flagged))
    with subject.store.connect() as connection:
        return [(rule, violations(connection, rule, subject.staging, subject.in_staging,
                                  subject.types, counted.get(rule.name)))
                for rule in subject.rules]


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
    """The query's rows; grouped, in a transaction of their own where the dialect needs to
    tell its planner to hash the few groups (:meth:`Dialect.grouping_hint`)."""
    hint = subject.store.dialect.grouping_hint()
    if not grouped or hint is None:
        return subject.rows(query)
    with subject.store.connect() as c, c.begin():
        c.execute(hint)
        return list(c.execute(query))
