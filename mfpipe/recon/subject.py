"""What reconciliation looks at: one run, rebuilt from the database alone.

Everything comes from ``mfp_run`` (the run's stored options rebuild its config, so a later
``mfpipe reconcile RUN_ID`` checks exactly what the launcher checked) and the layout file;
nothing from the launcher's memory. A :class:`RunSubject` is fixed once loaded: what the
run's rows are measured from, never the measures themselves, which are values of their own
(:mod:`mfpipe.recon.measures`), taken where and when the caller decides.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec import DecodePlan
from mfpipe.db.explorer import ChunkRecord, RunRecord
from mfpipe.db.measure import Measured
from mfpipe.db.promote import promoted_rows
from mfpipe.db.rules import Rule
from mfpipe.db.runs import RunStore
from mfpipe.db.schema import final_table, staging_table
from mfpipe.db.violations import row_rules
from mfpipe.errors import EXIT_NO_INPUT, RunError
from mfpipe.layout import RecordLayout
from mfpipe.pipeline.spec import JobSpec, spec_from_options


@dataclass(frozen=True)
class RunSubject:
    """A run with its config, layout, tables and chunk ledger; what its measures add up and
    its rules follow from them (derived once, on first use: a report of stored checks needs
    neither)."""

    store: RunStore
    run: RunRecord
    config: JobSpec
    record: RecordLayout
    schema: pa.Schema
    staging: sa.Table
    final: sa.Table
    ledger: tuple[ChunkRecord, ...]
    # while the run is being published: the publishing transaction, which every query of
    # the subject then goes through (it alone sees the promoted rows); see :meth:`within`
    connection: sa.Connection | None = None

    @classmethod
    def load(cls, store: RunStore, run_id: str) -> RunSubject:
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
        return cls(store, run, config, record, schema, staging, final,
                   tuple(store.ledger(run_id)))

    def within(self, connection: sa.Connection) -> RunSubject:
        """The same run, read through ``connection`` (the publishing transaction)."""
        return dataclasses.replace(self, connection=connection)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @cached_property
    def measured(self) -> Measured:
        """What the run's measures add up: its hashed and money columns."""
        return self.config.measured(self.record, self.schema)

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        """The job's business rules; with a key, the key's uniqueness within the run (a
        failure unless the job accepts duplicates: ``--duplicate-keys warn``, or names the
        rule itself); then an allowed-values rule (warn) for each loaded field whose
        level-88 conditions list single VALUEs (unless the job names the same rule, or asked
        for none: ``--no-88-rules``)."""
        return tuple(self.config.rules(self.record, self.schema))

    @cached_property
    def row_rules(self) -> tuple[tuple[Rule, sa.ColumnElement], ...]:
        """The rules that judge each row on its own, with the condition a breaking row
        meets."""
        return tuple(row_rules(self.rules, self.staging, self.types, self.store.dialect))

    @property
    def types(self) -> dict[str, pa.DataType]:
        """Arrow type of every layout column."""
        return {f.name: f.type for f in self.schema}

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

    def scalar(self, query: sa.Select) -> Any:
        """One value from the run's database."""
        return self.rows(query)[0][0]

    def rows(self, query: sa.Select) -> list[sa.Row]:
        """The query's rows, read in the publishing transaction if there is one."""
        if self.connection is not None:
            return list(self.connection.execute(query))
        with self.store.connect() as c:
            return list(c.execute(query))
