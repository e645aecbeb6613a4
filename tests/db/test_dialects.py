"""The dialect objects: what differs between databases lives in them, and nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from mfpipe.codec.digest import hash_columns, money_columns
from mfpipe.db import dialects
from mfpipe.db.measure import Measured
from mfpipe.db.promote import promotion_source
from mfpipe.db.schema import final_table, staging_table
from mfpipe.db.urls import parse
from mfpipe.errors import ConfigError
from mfpipe.layout import LENGTH_KEY

PACKAGE = Path(__file__).resolve().parents[2] / "mfpipe"
# a comparison with a database's name, either way round, or a test of membership
_NAME = r"""["'](?:sqlite|postgresql|oracle)["']"""
ASKS_NAME = re.compile(rf"""(?:[=!]=\s*{_NAME})|(?:{_NAME}\s*[=!]=)|(?:\bin\s*[(\[{{]\s*{_NAME})""")

SCHEMA = pa.schema([
    pa.field("acct", pa.int64()), pa.field("code", pa.string(), metadata={LENGTH_KEY: "10"}),
    pa.field("memo", pa.string(), metadata={LENGTH_KEY: "4001"}),
    pa.field("amount", pa.decimal128(31, 2)), pa.field("small", pa.int16()),
    pa.field("n", pa.int32()), pa.field("tiny", pa.int8()), pa.field("ratio", pa.float64()),
    pa.field("day", pa.date32()), pa.field("blob_data", pa.binary()),
])
TYPES = {  # what each dialect makes of SCHEMA's fields, as DDL writes it
    "sqlite": ["BIGINT", "VARCHAR(10)", "VARCHAR(4001)", "TEXT", "SMALLINT", "INTEGER",
               "BIGINT", "DOUBLE", "DATE", "BLOB"],
    "postgresql": ["BIGINT", "VARCHAR(10)", "VARCHAR(4001)", "NUMERIC(31, 2)", "SMALLINT",
                   "INTEGER", "BIGINT", "DOUBLE PRECISION", "DATE", "BYTEA"],
    "oracle": ["NUMBER(19, 0)", "VARCHAR2(10 CHAR)", "CLOB", "NUMBER(31, 2)", "NUMBER(5, 0)",
               "NUMBER(10, 0)", "NUMBER(3, 0)", "BINARY_DOUBLE", "DATE", "BLOB"],
}


def test_the_core_never_asks_a_dialect_its_name():
    """Outside the dialect modules (and the loaders, chosen by kind), no module compares a
    database's name: it asks its dialect object, so a new database is one new module."""
    found = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             if not {"dialects", "loaders"} & set(path.relative_to(PACKAGE).parts)
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if ASKS_NAME.search(line)]
    assert found == []
    assert ASKS_NAME.search('if store.dialect == "sqlite":')  # the pattern does find one
    assert ASKS_NAME.search("if name in ('oracle', 'sqlite'):")


def test_an_unknown_database_is_a_configuration_error():
    with pytest.raises(ConfigError, match="'mysql' is not supported: use sqlite"):
        dialects.get("mysql")
    with pytest.raises(ConfigError, match="not supported"):
        parse("mysql://scott@db/books")


@pytest.mark.parametrize("name", dialects.NAMES)
class TestEachDialect:
    def test_types_hold_every_value_exactly(self, name):
        """Decimals are NUMERIC/NUMBER (text on SQLite, which has no exact decimal), text
        keeps its length (CLOB past Oracle's 4000), integers their width."""
        dialect = dialects.get(name)
        assert dialect.name == name and dialect.sqlalchemy().name == name
        assert [dialect.type_name(f) for f in SCHEMA] == TYPES[name]

    def test_measure_and_promotion_compile_without_a_server(self, name):
        """Every dialect builds the whole measure (hash, exact sums) and a keyed promotion
        that takes the run's rows from staging and binds the run id."""
        dialect = dialects.get(name)
        metadata = sa.MetaData()
        staging = staging_table(metadata, "book", SCHEMA, dialect)
        final = final_table(metadata, "book", SCHEMA, dialect, key=("acct",))
        measured = Measured({f.name: f.type for f in SCHEMA}, tuple(hash_columns(SCHEMA)),
                            tuple(money_columns(SCHEMA)), nul_free=True)
        compiler = dialect.sqlalchemy()
        for halves in (False, True):
            sql = str(measured.select(staging, dialect, halves=halves).compile(dialect=compiler))
            assert "count(*)" in sql.lower() and "stg_book" in sql
        merge = dialect.merge(final, promotion_source(staging, final, "r1", ("acct",)), ("acct",))
        compiled = merge.compile(dialect=compiler)
        assert "stg_book" in str(compiled) and "r1" in compiled.params.values()
        assert [i.name for i in staging.indexes] == (["ix_stg_book"] if dialect.chunk_index
                                                     else [])

    def test_too_many_columns_is_refused_with_both_numbers(self, name):
        dialect = dialects.get(name)
        wide = pa.schema([pa.field(f"c{i}", pa.int32()) for i in range(dialect.max_columns)])
        with pytest.raises(ConfigError, match=f"{dialect.max_columns:,}"):
            staging_table(sa.MetaData(), "wide", wide, dialect)


def test_a_read_only_server_is_recognised_as_temporary(postgres_server):
    """A PostgreSQL server taking no writes (a standby, a switch-over) is a temporary
    refusal, retried like a lost connection; a statement's own error is not."""
    import psycopg

    from mfpipe.db.faults import connection_lost

    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute("SET default_transaction_read_only = on")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as refused:
            connection.execute("CREATE TABLE t_never (a int)")
        with pytest.raises(psycopg.errors.DivisionByZero) as own:
            connection.execute("SELECT 1 / 0")
    postgresql = dialects.get("postgresql")
    assert postgresql.refuses_writes(refused.value) and not postgresql.refuses_writes(own.value)
    assert not any(d.refuses_writes(refused.value) for d in dialects.every() if d is not postgresql)
    wrapped = sa.exc.DBAPIError.instance("CREATE TABLE t_never (a int)", {}, refused.value,
                                         psycopg.Error)
    assert connection_lost(wrapped)
    assert not connection_lost(sa.exc.DBAPIError.instance("SELECT 1 / 0", {}, own.value,
                                                          psycopg.Error))
