"""Control, staging and final tables that mfpipe finds: created when missing, checked when
there, never altered."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa

from mfpipe.db.control import create_control_tables, metadata
from mfpipe.db.runs import RunStore
from mfpipe.db.urls import create_engine
from mfpipe.errors import ConfigError

SCHEMA = pa.schema([("acct", pa.int64()), ("name", pa.string())])


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_created_once_then_checked(db_url):
    """A fresh database gets every control table; a second call finds and checks them."""
    engine = create_engine(db_url)
    create_control_tables(engine)
    assert {t.name for t in metadata.sorted_tables} <= table_names(engine)
    create_control_tables(engine)
    engine.dispose()


def test_older_control_table_is_refused(db_url):
    """A control table an older mfpipe left without a column is named, never altered."""
    engine = create_engine(db_url)
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE mfp_run (run_id VARCHAR(32) PRIMARY KEY)"))
    with pytest.raises(ConfigError, match=r"mfp_run lacks .*status"):
        create_control_tables(engine)
    engine.dispose()


def test_staging_table_with_other_columns_is_refused(db_url):
    """A staging table whose columns differ from the layout's is named with the difference."""
    store = RunStore(db_url)
    with store.engine.begin() as c:
        c.execute(sa.text("CREATE TABLE stg_book (run_id VARCHAR(32), acct BIGINT)"))
    with pytest.raises(ConfigError, match=r"stg_book exists with other columns: .*name is "
                                          r"missing"):
        store.prepare("book", SCHEMA)
    store.close()


def test_a_plan_is_stored_once_and_alike(db_url):
    """Plan entries stored again (a launcher racing another) are kept once; an entry that
    differs from the stored one is refused (64), naming the chunk and both cuts."""
    from mfpipe.db.explorer import PlannedChunk
    from mfpipe.errors import RunError
    from mfpipe.framing import ChunkSpan

    store = RunStore(db_url)
    store.prepare_control()
    entries = [PlannedChunk(ChunkSpan(k, 1 + 100 * k, 400 * k, 400, 100), 0, 100)
               for k in range(3)]
    store.record_plan("R1", entries[:2])
    store.record_plan("R1", entries)
    store.record_plan("R1", [])
    assert store.plan("R1") == {e.chunk_id: e for e in entries}
    moved = PlannedChunk(ChunkSpan(1, 101, 404, 400, 100), 0, 100)
    with pytest.raises(RunError, match="chunk 1 was planned as bytes 400-800, records "
                                       "101-200 .* and now as bytes 404-804") as refused:
        store.record_plan("R1", [moved])
    assert refused.value.exit_code == 64
    assert store.plan("R1")[1] == entries[1]
    store.close()


def test_an_earlier_mfpipes_database_gets_the_tables_added_since(db_url):
    """A database whose runs an earlier mfpipe loaded, without a control table added since
    (the plan): the commands that read runs create it, empty, rather than refuse."""
    engine = create_engine(db_url)
    create_control_tables(engine)
    with engine.begin() as c:
        c.execute(sa.text("DROP TABLE mfp_plan"))
    engine.dispose()
    store = RunStore.existing(db_url)
    assert store.plan("R1") == {}
    store.close()
