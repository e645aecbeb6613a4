"""The chunk probe: what a writer measures of its chunk inside the chunk's transaction equals
what the processors computed from the decoded rows, and what a scan of staging finds, with
every loader of this machine (SQLite, PostgreSQL by COPY and by ADBC) and its paramstyle."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.db import dialects
from mfpipe.codec.digest import column_totals, content_hash
from mfpipe.db.loaders import loader_class, open_loader
from mfpipe.db.measure import Measure, Measured
from mfpipe.db.probe import ChunkProbe, expected_measure
from mfpipe.db.rules import Rule
from mfpipe.db.schema import staging_table
from mfpipe.db.urls import create_engine
from mfpipe.db.violations import row_rules
from tests.db.test_digest import COLUMNS, SCHEMA, row

MONEY = ("amount", "rate", "whole", "wide", "tiny")
RULES = (Rule.parse("not_null:name"), Rule.parse("range:amount:-100..5000.00"),
         Rule.parse("allowed:name:A,B,C"), Rule.parse("range:day:2000-01-01.."),
         Rule.parse("unique:count"))  # unique: not row-wise, never in a probe


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-adbc"])
def target(request, tmp_path):
    """(url, loader kind, engine, staging table) with an empty staging table of SCHEMA."""
    kind = request.param
    url = (f"sqlite:///{tmp_path / 'p.db'}" if kind == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    table = staging_table(sa.MetaData(), "probe", SCHEMA, dialects.of(engine))
    table.create(engine)
    yield url, kind, engine, table
    engine.dispose()


def lineage(batch: pa.RecordBatch, chunk: int, worker: int, first: int) -> pa.RecordBatch:
    n = batch.num_rows
    columns = [pa.array(["run1"] * n), pa.array([worker] * n, pa.int32()),
               pa.array([chunk] * n, pa.int32()), pa.array(range(first, first + n), pa.int64())]
    return pa.RecordBatch.from_arrays(columns + list(batch.columns),
                                      names=["run_id", "worker_id", "chunk_id", "record_no",
                                             *batch.schema.names])


def measured() -> Measured:
    return Measured({f.name: f.type for f in SCHEMA}, COLUMNS, MONEY, nul_free=False)


def decoded(batch: pa.RecordBatch) -> Measure:
    return expected_measure(batch.num_rows, content_hash(batch, COLUMNS),
                            column_totals(batch, MONEY))


class TestProbe:
    @settings(max_examples=10, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=st.lists(row, min_size=0, max_size=30),
           others=st.lists(row, min_size=1, max_size=5))
    def test_measures_its_chunk_alone_as_decoded(self, target, rows, others):
        """Inside the open transaction the probe finds exactly the chunk's rows, as the
        processors measured them, though rows of another chunk and of another worker of the
        same chunk id sit beside them (committed earlier) in the same table; its rule counts
        are the ones a query per rule finds."""
        url, kind, engine, table = target
        with engine.begin() as c:
            c.execute(sa.delete(table))
        batch = pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
        other = pa.RecordBatch.from_pylist(others, schema=SCHEMA)
        probe = ChunkProbe.build(table, measured(), RULES, dialects.of(engine),
                                 loader_class(url, kind).paramstyle)
        assert probe.rules == ("rule_not_null_name", "rule_range_amount", "rule_allowed_name",
                               "rule_range_day")
        with open_loader(url, kind) as loader:
            loader.load(table.name, lineage(other, 7, 2, 0))
            loader.load(table.name, lineage(other, 3, 1, 100))
            loader.commit()
            after = probe.before(loader.fetch_one)
            loader.load(table.name, lineage(batch, 3, 2, 1_000))
            found = probe.measure(loader.fetch_one, "run1", 3, 2, after)
            loader.commit()
        assert found.proves(decoded(batch))
        where = sa.and_(table.c.chunk_id == 3, table.c.worker_id == 2)
        with engine.connect() as c:
            counts = tuple(int(c.execute(sa.select(sa.func.count()).where(where, condition))
                               .scalar_one())
                           for _, condition in row_rules(RULES, table, measured().types,
                                                         dialects.of(engine)))
        assert found.flagged == counts

    def test_sqlite_sums_past_64_bits_in_halves(self, tmp_path):
        """Eighteen-digit amounts whose chunk total passes 2**63: SQLite's integer sum
        overflows, and the probe's second statement sums in halves, exactly."""
        url = f"sqlite:///{tmp_path / 'big.db'}"
        engine = create_engine(url)
        table = staging_table(sa.MetaData(), "probe", SCHEMA, dialects.get("sqlite"))
        table.create(engine)
        big = Decimal("999999999999999999")
        batch = pa.RecordBatch.from_pylist([{"whole": big, "count": i} for i in range(20)],
                                           schema=SCHEMA)
        probe = ChunkProbe.build(table, measured(), (), dialects.get("sqlite"), "named")
        assert len(probe.statements) == 2
        with open_loader(url) as loader:
            after = probe.before(loader.fetch_one)
            loader.load(table.name, lineage(batch, 0, 1, 1))
            found = probe.measure(loader.fetch_one, "run1", 0, 1, after)
        assert found.totals["whole"] == big * 20
        assert found.proves(decoded(batch))
        engine.dispose()


class TestOracleProbe:
    def test_compiles_with_named_binds_and_standard_hash(self):
        """Without a server: the probe's Oracle SQL binds the run, chunk and worker by name,
        hashes with STANDARD_HASH and binds each rule's values (never formats them in)."""
        table = staging_table(sa.MetaData(), "probe", SCHEMA, dialects.get("oracle"))
        probe = ChunkProbe.build(table, measured(), RULES, dialects.get("oracle"), "named")
        (statement,) = probe.statements
        assert ":mfp_run_id" in statement.sql and ":mfp_chunk_id" in statement.sql
        assert "standard_hash" in statement.sql.lower()
        assert "5000.00" not in statement.sql and "'A'" not in statement.sql
        values = dict(statement.constants)
        assert Decimal("5000.00") in values.values() and "A" in values.values()
        assert dt.date(2000, 1, 1) in values.values()
        bound = statement.parameters({"mfp_run_id": "r", "mfp_chunk_id": 1,
                                      "mfp_worker_id": 2, "mfp_after": None})
        assert isinstance(bound, dict) and bound["mfp_chunk_id"] == 1
        assert "mfp_after" not in bound  # python-oracledb refuses a name the SQL lacks
