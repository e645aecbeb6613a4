"""Promotion from staging to the final table: append, merge on a key, replace a run."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from mfpipe.db.loaders import open_loader
from mfpipe.db import dialects
from mfpipe.db.promote import promote, promotion_source
from mfpipe.db.runs import RunStore
from mfpipe.db.schema import final_table, staging_table
from mfpipe.errors import ConfigError

SCHEMA = pa.schema([("acct", pa.int64()), ("amount", pa.decimal128(9, 2)), ("name", pa.string())])



def stage(db_url: str, run_id: str, rows: list[tuple[int, str, str]], key=()):
    """Create the tables and load rows (acct, amount, name) into staging for ``run_id``."""
    store = RunStore(db_url)
    staging, final = store.prepare("acct_book", SCHEMA, key=key)
    batch = pa.RecordBatch.from_pylist(
        [{"run_id": run_id, "worker_id": 1, "chunk_id": 0, "record_no": i + 1, "acct": a,
          "amount": Decimal(m), "name": n} for i, (a, m, n) in enumerate(rows)],
        schema=pa.schema([("run_id", pa.string()), ("worker_id", pa.int32()),
                          ("chunk_id", pa.int32()), ("record_no", pa.int64()), *SCHEMA]))
    with open_loader(db_url) as loader:
        loader.load(staging.name, batch)
        loader.commit()
    return store, staging, final


def final_rows(store: RunStore, final: sa.Table) -> list[tuple]:
    with store.engine.connect() as c:
        return [(r.acct, str(r.amount), r.name, r.last_run_id) for r in c.execute(
            sa.select(final).order_by(final.c.acct, final.c.last_run_id))]


def promote_run(store: RunStore, run_id: str, staging: sa.Table, final: sa.Table, key=(),
                replaces=()) -> int:
    """Promote in a transaction of its own (publication shares it with the proof)."""
    with store.engine.begin() as connection:
        return promote(connection, staging, final, run_id, key, replaces)


class TestAppend:
    def test_rows_are_appended_with_their_run(self, db_url):
        """Without a key every staging row of the run is appended, with ``last_run_id``,
        and the rows written are counted."""
        store, staging, final = stage(db_url, "r1", [(1, "1.00", "a"), (1, "2.00", "b")])
        assert promote_run(store, "r1", staging, final) == 2
        assert final_rows(store, final) == [(1, "1.00", "a", "r1"), (1, "2.00", "b", "r1")]

    def test_replaced_run_is_removed(self, db_url):
        """Rows of the run a reprocess replaces leave the final table in the same transaction."""
        store, staging, final = stage(db_url, "r1", [(1, "1.00", "a")])
        promote_run(store, "r1", staging, final)
        stage(db_url, "r2", [(2, "2.00", "b")])
        promote_run(store, "r2", staging, final, replaces=["r1"])
        assert final_rows(store, final) == [(2, "2.00", "b", "r2")]


class TestMerge:
    def test_merge_updates_and_inserts(self, db_url):
        """With a key, a later run updates existing keys and adds new ones."""
        store, staging, final = stage(db_url, "r1", [(1, "1.00", "a"), (2, "2.00", "b")],
                                      key=("acct",))
        promote_run(store, "r1", staging, final, key=("acct",))
        stage(db_url, "r2", [(2, "20.00", "B"), (3, "3.00", "c")], key=("acct",))
        promote_run(store, "r2", staging, final, key=("acct",))
        assert final_rows(store, final) == [(1, "1.00", "a", "r1"), (2, "20.00", "B", "r2"),
                                            (3, "3.00", "c", "r2")]

    def test_later_record_wins_within_a_file(self, db_url):
        """A key twice in one file: the later record is the one promoted."""
        store, staging, final = stage(db_url, "r1", [(7, "1.00", "first"), (7, "2.00", "last")],
                                      key=("acct",))
        assert promote_run(store, "r1", staging, final, key=("acct",)) == 1
        assert promote_run(store, "r1", staging, final, key=("acct",)) == 1  # twice: updated
        assert final_rows(store, final) == [(7, "2.00", "last", "r1")]

    def test_unknown_key_is_a_config_error(self):
        """A key naming no column is refused before any table is made."""
        with pytest.raises(ConfigError, match="nope"):
            final_table(sa.MetaData(), "acct_book", SCHEMA, dialects.get("sqlite"),
                        key=("nope",))

    def test_changed_key_of_an_existing_table_is_refused(self, db_url):
        """A final table created with another key is not silently reused."""
        stage(db_url, "r1", [(1, "1.00", "a")], key=("acct",))
        with pytest.raises(ConfigError, match="key"):
            RunStore(db_url).prepare("acct_book", SCHEMA, key=("name",))


class TestOracleMerge:
    def test_merge_statement_compiles(self):
        """Oracle gets a MERGE using the same rows as the other dialects' upsert (the run's
        latest row per key), the key in ON, every other column updated, values bound."""
        metadata, oracle = sa.MetaData(), dialects.get("oracle")
        staging = staging_table(metadata, "acct_book", SCHEMA, oracle)
        final = final_table(metadata, "acct_book", SCHEMA, oracle, key=("acct",))
        source = promotion_source(staging, final, "r1", ("acct",))
        compiled = oracle.merge(final, source, ("acct",)).compile(dialect=oracle.sqlalchemy())
        sql = str(compiled)
        using = str(source.compile(dialect=oracle.sqlalchemy()))
        assert sql.startswith(f"MERGE INTO acct_book f USING ({using}) s ON (f.acct = s.acct) ")
        assert "GROUP BY stg_acct_book.acct" in using and "run_id = :run_id_1" in using
        assert "f.amount = s.amount" in sql and "f.last_run_id = s.last_run_id" in sql
        assert "f.acct = s.acct," not in sql  # the key is never updated
        assert set(compiled.params.values()) == {"r1"}
