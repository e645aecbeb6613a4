"""One contract for every bulk loader, run against the real databases of this machine.

SQLite and PostgreSQL (binary COPY of mfpipe's own encoding, and ADBC's) always run; Oracle
runs when ``MFPIPE_ORACLE_URL`` points at a live database.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from mfpipe.db import dialects
from mfpipe.db.loaders import open_loader
from mfpipe.db.schema import final_table
from mfpipe.db.urls import create_engine
from mfpipe.errors import ConfigError, TerminalLoadError, TransientLoadError

SCHEMA = pa.schema([
    pa.field("id", pa.int32()), pa.field("amount", pa.decimal128(13, 2)),
    pa.field("wide", pa.decimal128(31, 4)), pa.field("name", pa.string(),
                                                     metadata={b"mfpipe.max_length": b"20"}),
    pa.field("opened", pa.date32()), pa.field("rate", pa.float64()),
    pa.field("small", pa.int16()), pa.field("big", pa.int64())])
ROWS = {
    "id": [1, 2, 3], "amount": [Decimal("0.01"), Decimal("-99999999999.99"), None],
    "wide": [Decimal("123456789012345678901234567.8901"), Decimal("-1.0000"), None],
    "name": ["MÜLLER", "", None], "opened": [dt.date(2024, 2, 29), dt.date(1970, 1, 1), None],
    "rate": [0.5, -1e300, None], "small": [-32768, 32767, None],
    "big": [-(2**63), 2**63 - 1, None]}


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-adbc", "oracle"])
def target(request, tmp_path):
    """(loader kind, url, engine) with an empty table ``t_contract`` of SCHEMA."""
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.db'}"
    elif kind == "oracle":
        url = os.environ.get("MFPIPE_ORACLE_URL") or pytest.skip("MFPIPE_ORACLE_URL is not set")
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    metadata = sa.MetaData()
    table = final_table(metadata, "t_contract", SCHEMA, dialects.of(engine))
    table.drop(engine, checkfirst=True)
    table.create(engine)
    yield kind, url, engine, table
    table.drop(engine, checkfirst=True)
    engine.dispose()


def batch() -> pa.RecordBatch:
    columns = {**ROWS, "last_run_id": ["r1", "r1", "r1"]}
    return pa.RecordBatch.from_pydict(columns, schema=SCHEMA.append(pa.field("last_run_id",
                                                                               pa.string())))


def stored(engine, table) -> list[dict]:
    with engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(table).order_by(table.c.id)).mappings()]


class TestLoaderContract:
    def test_commit_makes_rows_visible_with_exact_values(self, target):
        """Committed rows read back with every value exact (decimals never through float)."""
        kind, url, engine, table = target
        with open_loader(url, kind) as loader:
            assert loader.load("t_contract", batch()).rows == 3
            loader.commit()
        rows = stored(engine, table)
        assert [r["id"] for r in rows] == [1, 2, 3]
        assert [Decimal(str(r["amount"])) if r["amount"] is not None else None
                for r in rows] == ROWS["amount"]
        assert Decimal(str(rows[0]["wide"])) == ROWS["wide"][0]
        assert rows[0]["name"] == "MÜLLER" and rows[2]["name"] is None
        assert str(rows[0]["opened"])[:10] == "2024-02-29"
        assert [r["big"] for r in rows] == ROWS["big"]

    def test_prepared_rows_load_like_the_batch(self, target):
        """What ``prepare`` makes of a batch (in the processors) loads the same values, in
        the transaction the writer already has open, and a rollback discards it too."""
        kind, url, engine, table = target
        with open_loader(url, kind) as loader:
            prepared = type(loader).prepare(batch())
            assert prepared.num_rows == 3
            loader.load("t_contract", batch().slice(0, 1))
            loader.rollback()
            loader.load("t_contract", batch().slice(2, 1))  # the transaction is open already
            assert loader.load("t_contract", prepared).rows == 3
            loader.commit()
            loader.load("t_contract", type(loader).prepare(batch()))
            loader.rollback()
        with open_loader(url, kind) as loader:
            direct = stored(engine, table)
            with engine.begin() as c:
                c.execute(table.delete())
            loader.load("t_contract", batch())
            loader.load("t_contract", batch().slice(2, 1))
            loader.commit()
        assert sorted(direct, key=repr) == sorted(stored(engine, table), key=repr)
        assert len(direct) == 4

    def test_rollback_discards(self, target):
        """Rows loaded and rolled back are gone; a later commit keeps only its own rows."""
        kind, url, engine, table = target
        with open_loader(url, kind) as loader:
            loader.load("t_contract", batch())
            loader.rollback()
            loader.load("t_contract", batch().slice(0, 1))
            loader.commit()
        assert [r["id"] for r in stored(engine, table)] == [1]

    def test_uncommitted_rows_are_invisible(self, target):
        """Until commit, other connections do not see a chunk's rows."""
        kind, url, engine, table = target
        with open_loader(url, kind) as loader:
            loader.load("t_contract", batch())
            assert stored(engine, table) == []
            loader.rollback()

    def test_missing_table_is_terminal(self, target):
        """Loading into a table that does not exist is a terminal error naming the table."""
        kind, url, _, _ = target
        with open_loader(url, kind) as loader, pytest.raises(TerminalLoadError) as caught:
            loader.load("t_missing", batch())
        assert caught.value.table == "t_missing"

    def test_identifiers_are_validated(self, target):
        """A table name that is not a plain identifier never reaches the SQL text."""
        kind, url, _, _ = target
        if kind == "postgresql-adbc":
            pytest.skip("ADBC binds table names through the driver API")
        with open_loader(url, kind) as loader, pytest.raises(ConfigError):
            loader.load('t_contract"; DROP TABLE t_contract; --', batch())


class TestPostgresFaults:
    @pytest.mark.parametrize("kind", ["postgresql", "postgresql-adbc"])
    def test_terminated_backend_is_transient(self, postgres_url, kind):
        """pg_terminate_backend on the loader's connection surfaces as a retryable error."""
        engine = create_engine(postgres_url)
        metadata = sa.MetaData()
        table = final_table(metadata, "t_fault", SCHEMA, dialects.get("postgresql"))
        table.drop(engine, checkfirst=True)
        table.create(engine)
        try:
            loader = open_loader(postgres_url, kind)
            loader.load("t_fault", batch())
            loader.commit()
            with engine.begin() as c:  # only this test's connections carry its application_name
                c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                  "pid <> pg_backend_pid() AND "
                                  "application_name = current_setting('application_name')"))
            with pytest.raises(TransientLoadError):
                loader.load("t_fault", batch())
                loader.commit()
            loader.close()
        finally:
            engine.dispose()
            engine = create_engine(postgres_url)
            table.drop(engine, checkfirst=True)
            engine.dispose()


class TestOracleSql:
    def test_insert_quotes_validated_names(self):
        """The Oracle loader's INSERT quotes every name as Oracle keeps it (upper case) and
        binds every value (checked without a server)."""
        from mfpipe.db.loaders.oracle import insert_statement

        assert insert_statement("stg_book", ["run_id", "amount"]) == (
            'INSERT INTO "STG_BOOK" ("RUN_ID", "AMOUNT") VALUES (:1, :2)')

    @pytest.mark.parametrize("table, column", [('t"; DROP TABLE t; --', "a"),
                                               ("t", "a) VALUES (1); --"), ("t", "select")])
    def test_names_that_are_not_identifiers_never_reach_the_sql(self, table, column):
        from mfpipe.db.loaders.oracle import insert_statement

        with pytest.raises(ConfigError):
            insert_statement(table, [column])
