"""What reconciliation looks at: one run, rebuilt from the database alone.

Everything comes from ``mfp_run`` (the run's stored options rebuild its config, so a later
``mfpipe reconcile RUN_ID`` checks exactly what the launcher checked) and the layout file;
nothing from the launcher's memory.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec import DecodePlan
from mfpipe.db.explorer import ChunkRecord, RunRecord
from mfpipe.db.measure import Measure, Measured
from mfpipe.db.promote import promoted_rows
from mfpipe.db.rules import Rule
from mfpipe.db.runs import RunStore
from mfpipe.db.schema import final_table, staging_table
from mfpipe.db.violations import Violations, row_rules, violations
from mfpipe.errors import EXIT_NO_INPUT, RunError
from mfpipe.layout import RecordLayout
from mfpipe.pipeline.spec import JobSpec, spec_from_options
from mfpipe.recon.measures import measure
from mfpipe.recon.model import PROOF_CHUNK, PROOF_PUBLISH, PROOF_SCAN


@dataclass
class RunSubject:
    """A run with its config, layout, tables and chunk ledger."""

    store: RunStore
    run: RunRecord
    config: JobSpec
    record: RecordLayout
    schema: pa.Schema
    staging: sa.Table
    final: sa.Table
    ledger: list[ChunkRecord]
    # while the run is being published: the publishing transaction, which every query of
    # the subject then goes through (it alone sees the promoted rows)
    connection: sa.Connection | None = None
    # measure staging by scanning it (an audit: `mfpipe reconcile`), not from the measures
    # the writers took inside each chunk's transaction
    rescan: bool = False

    @classmethod
    def load(cls, store: RunStore, run_id: str, rescan: bool = False) -> RunSubject:
        """Read a run back; a missing run or layout is a clear error, not a traceback."""
        run = store.run(run_id)
        if run is None:
            raise RunError(run_id, "no such run in this database (see `mfpipe runs list`)",
                           EXIT_NO_INPUT)
        config = spec_from_options(run.options, store.url)
        record = config.source.record()
        schema = DecodePlan.compile(record, config.source.decode).schema
        metadata = sa.MetaData()
        staging = staging_table(metadata, config.source.table(record), schema, store.dialect,
                                run.staging_table or config.target.staging_table)
        final = final_table(metadata, run.final_table or config.target.final_table
                            or config.source.table(record), schema, store.dialect,
                            config.target.key)
        return cls(store, run, config, record, schema, staging, final, store.ledger(run_id),
                   rescan=rescan)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def types(self) -> dict[str, pa.DataType]:
        """Arrow type of every layout column."""
        return {f.name: f.type for f in self.schema}

    @cached_property
    def measured(self) -> Measured:
        """What the run's measures add up: its hashed and money columns."""
        return Measured.of(self.schema, self.record, self.config.proof.hash_columns or (),
                           self.config.proof.money_columns or (),
                           self.config.source.decode.low_values)

    @property
    def in_staging(self) -> sa.ColumnElement:
        """The run's rows in staging."""
        return self.staging.c.run_id == self.run_id

    @property
    def promoted(self) -> sa.ColumnElement:
        """The run's staging rows that promotion takes (the latest per key)."""
        return promoted_rows(self.staging, self.run_id, self.config.target.key)

    @property
    def in_final(self) -> sa.ColumnElement:
        """The final table's rows last written by this run."""
        return self.final.c.last_run_id == self.run_id

    @property
    def metrics(self) -> dict[int, dict[str, int]]:
        """The MetricsAggregator's per-worker counts as the run recorded them."""
        return {int(k): v for k, v in json.loads(self.run.metrics or "{}").items()}

    @cached_property
    def proved_chunks(self) -> dict[tuple[int, int], Measure] | None:
        """The run's staging rows per (chunk_id, worker_id) as each chunk's writer measured
        them inside the chunk's transaction (``mfp_chunk_proof``), with the row-wise rules'
        violations; None for an audit (``rescan``) or when a chunk has no such measure (a
        run loaded by an earlier mfpipe)."""
        if self.rescan:
            return None
        proofs = self.store.chunk_proofs(self.run_id, self.connection)
        rules = [rule.name for rule, _ in self.row_rules]
        if {c.chunk_id for c in self.ledger} != set(proofs) or any(
                not set(rules) <= set(p.flagged) for p in proofs.values()):
            return None
        return {(c.chunk_id, c.worker_id): proofs[c.chunk_id].measure(rules)
                for c in self.ledger}

    @property
    def staging_proof(self) -> str:
        """How the staging side was measured (see :mod:`mfpipe.recon.model`)."""
        return PROOF_CHUNK if self.proved_chunks is not None else PROOF_SCAN

    @property
    def final_proof(self) -> str:
        """How the final side was measured: in the publishing transaction, or by a scan."""
        return PROOF_PUBLISH if self.connection is not None else PROOF_SCAN

    @cached_property
    def staging_chunks(self) -> dict[tuple[int, int], Measure]:
        """The run's staging rows per (chunk_id, worker_id): as proved in each chunk's
        transaction, or measured in one scan, which also counts the violations of the
        row-wise rules (``row_rules``)."""
        if self.proved_chunks is not None:
            return self.proved_chunks
        c = self.staging.c
        flags = [condition for _, condition in self.row_rules]
        return {(int(k[0]), int(k[1])): m for k, m in measure(
            self, self.staging, self.in_staging, (c.chunk_id, c.worker_id), flags).items()}

    @cached_property
    def row_rules(self) -> list[tuple[Rule, sa.ColumnElement]]:
        """The rules that judge each row on its own, with the condition a breaking row
        meets (``row_condition``)."""
        return row_rules(self.rules, self.staging, self.types, self.store.dialect)

    def staged_by(self, part: str) -> dict[int, Measure]:
        """The run's staging rows per ``chunk`` or per ``worker``."""
        index = ("chunk", "worker").index(part)
        groups: dict[int, list[Measure]] = {}
        for key, measured in self.staging_chunks.items():
            groups.setdefault(key[index], []).append(measured)
        return {k: Measure.combined(v) for k, v in groups.items()}

    @cached_property
    def staged(self) -> Measure:
        """All of the run's staging rows (an empty file's run has none: zero rows, zero
        totals, no rule broken)."""
        if not self.staging_chunks:
            return Measure(0, 0, {m: Decimal(0) for m in self.config.proof.money_columns or ()},
                           (0,) * len(self.row_rules))
        return Measure.combined(self.staging_chunks.values())

    @cached_property
    def promoted_count(self) -> int:
        """How many staging rows promotion takes: all of them without a key; with one, the
        latest record of each key, counted in staging."""
        if not self.config.target.key:
            return self.staged.rows
        return int(self.scalar(sa.select(sa.func.count()).where(self.promoted)))

    @cached_property
    def promoted_measure(self) -> Measure:
        """The staging rows promotion takes: all of them, unless a key repeats in the file."""
        if self.promoted_count != self.staged.rows:
            return measure(self, self.staging, self.promoted)[()]
        return self.staged

    def adopt_staging_side(self, side: StagingSide) -> None:
        """Take the staging side measured elsewhere (see :func:`staging_side`)."""
        self.__dict__.update(side._asdict())

    @cached_property
    def final_measure(self) -> Measure:
        """The final table's rows of this run."""
        return measure(self, self.final, self.in_final)[()]

    @property
    def final_rows(self) -> int:
        """How many final rows this run last wrote: from the final measure once taken."""
        if "final_measure" in self.__dict__:
            return self.final_measure.rows
        return int(self.scalar(sa.select(sa.func.count()).where(self.in_final)))

    @property
    def rules(self) -> list[Rule]:
        """The job's business rules; with a key, the key's uniqueness within the run (a
        failure unless the job accepts duplicates: ``--duplicate-keys warn``, or names the
        rule itself); then an allowed-values rule (warn) for each loaded field whose
        level-88 conditions list single VALUEs (unless the job names the same rule, or asked
        for none: ``--no-88-rules``)."""
        return self.config.rules(self.record, self.schema)

    @cached_property
    def rule_findings(self) -> list[tuple[Rule, Violations]]:
        """Each rule's violations among the run's staging rows (every record that was
        loaded, duplicates included); the row-wise rules' counts come from the staging
        measure's scan."""
        counted = dict(zip((rule.name for rule, _ in self.row_rules), self.staged.flagged))
        with self.store.connect() as connection:
            return [(rule, violations(connection, rule, self.staging, self.in_staging,
                                      self.types, counted.get(rule.name)))
                    for rule in self.rules]

    def scalar(self, query: sa.Select) -> Any:
        """One value from the run's database."""
        return self.rows(query)[0][0]

    def rows(self, query: sa.Select) -> list[sa.Row]:
        """The query's rows, read in the publishing transaction if there is one."""
        if self.connection is not None:
            return list(self.connection.execute(query))
        with self.store.connect() as c:
            return list(c.execute(query))


class StagingSide(NamedTuple):
    """What :func:`staging_side` measured, under the names of the subject's properties."""

    staging_chunks: dict[tuple[int, int], Measure]
    rule_findings: list[tuple[Rule, Violations]]
    proved_chunks: dict[tuple[int, int], Measure] | None
    promoted_count: int


def staging_side(url: str, run_id: str) -> tuple[StagingSide, float]:
    """A run's staging measure per chunk and worker, its rule findings, whether the measure
    comes from the chunks' own transactions, and how many rows promotion takes, from a
    connection of its own, with the CPU seconds its process has used: the launcher takes
    them in another thread, or on SQLite in another process (a scan on SQLite calls Python
    once per row, and would hold the GIL the launcher needs for the final table's).

    Promotion taking another number of rows than the chunks proved means a key repeats
    (promotion takes a subset of staging, measured by a scan) or staging changed after its
    chunks committed (a row deleted, or one added): staging is then scanned too, so that
    neither can pass unseen on both sides at once."""
    store = RunStore(url, run_id)
    try:
        subject = RunSubject.load(store, run_id)
        if subject.proved_chunks is not None and subject.promoted_count != subject.staged.rows:
            promoted = subject.promoted_count
            subject = dataclasses.replace(subject, rescan=True)  # its measures not taken yet
            subject.__dict__["promoted_count"] = promoted
        side = StagingSide(subject.staging_chunks, subject.rule_findings,
                           subject.proved_chunks, subject.promoted_count)
        return side, time.process_time()
    finally:
        store.close()
