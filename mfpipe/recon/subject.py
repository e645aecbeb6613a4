"""What reconciliation looks at: one run, rebuilt from the database alone.

Everything comes from ``mfp_run`` (the run's stored options rebuild its config, so a later
``mfpipe reconcile RUN_ID`` checks exactly what the launcher checked) and the layout file;
nothing from the launcher's memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec import DecodePlan
from mfpipe.db.promote import promoted_rows
from mfpipe.db.runs import RunStore
from mfpipe.db.schema import final_table, staging_table
from mfpipe.errors import EXIT_NO_INPUT, RunError
from mfpipe.layout import RecordLayout, load_layout
from mfpipe.pipeline.config import RunConfig, config_from_options
from mfpipe.recon.measures import Measure, measure


@dataclass
class RunSubject:
    """A run with its config, layout, tables and chunk ledger."""

    store: RunStore
    run: dict[str, Any]
    config: RunConfig
    record: RecordLayout
    schema: pa.Schema
    staging: sa.Table
    final: sa.Table
    ledger: list[dict[str, Any]]

    @classmethod
    def load(cls, store: RunStore, run_id: str) -> RunSubject:
        """Read a run back; a missing run or layout is a clear error, not a traceback."""
        run = store.run(run_id)
        if run is None:
            raise RunError(run_id, "no such run in this database (see `mfpipe runs list`)",
                           EXIT_NO_INPUT)
        config = config_from_options(run["options"], store.url)
        record = load_layout(config.layout_path).record(config.record_name)
        schema = DecodePlan.compile(record, config.decode).schema
        metadata = sa.MetaData()
        staging = staging_table(metadata, record.table, schema, store.dialect)
        final = final_table(metadata, run.get("final_table") or config.final_table
                            or record.table, schema, store.dialect, config.key)
        return cls(store, run, config, record, schema, staging, final, store.ledger(run_id))

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])

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
        return promoted_rows(self.staging, self.run_id, self.config.key)

    @property
    def in_final(self) -> sa.ColumnElement:
        """The final table's rows last written by this run."""
        return self.final.c.last_run_id == self.run_id

    @property
    def metrics(self) -> dict[int, dict[str, int]]:
        """The MetricsAggregator's per-worker counts as the run recorded them."""
        return {int(k): v for k, v in json.loads(self.run.get("metrics") or "{}").items()}

    @cached_property
    def staging_chunks(self) -> dict[tuple[int, int], Measure]:
        """The run's staging rows per (chunk_id, worker_id), measured in one scan."""
        c = self.staging.c
        return {(int(k[0]), int(k[1])): m for k, m in
                measure(self, self.staging, self.in_staging, (c.chunk_id, c.worker_id)).items()}

    def staged_by(self, part: str) -> dict[int, Measure]:
        """The run's staging rows per ``chunk`` or per ``worker``."""
        index = ("chunk", "worker").index(part)
        groups: dict[int, list[Measure]] = {}
        for key, measured in self.staging_chunks.items():
            groups.setdefault(key[index], []).append(measured)
        return {k: Measure.combined(v) for k, v in groups.items()}

    @cached_property
    def staged(self) -> Measure:
        """All of the run's staging rows."""
        return Measure.combined(self.staging_chunks.values())

    @cached_property
    def promoted_measure(self) -> Measure:
        """The staging rows promotion takes: all of them, unless a key repeats in the file."""
        if self.config.key and self.scalar(
                sa.select(sa.func.count()).where(self.promoted)) != self.staged.rows:
            return measure(self, self.staging, self.promoted)[()]
        return self.staged

    @cached_property
    def final_measure(self) -> Measure:
        """The final table's rows of this run."""
        return measure(self, self.final, self.in_final)[()]

    def scalar(self, query: sa.Select) -> Any:
        """One value from the run's database."""
        with self.store.engine.connect() as c:
            return c.execute(query).scalar_one()

    def rows(self, query: sa.Select) -> list[sa.Row]:
        with self.store.engine.connect() as c:
            return list(c.execute(query))
