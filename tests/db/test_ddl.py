"""Staging and final tables: DDL that the real databases accept, with safe identifiers."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa

from mfpipe.db import dialects
from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.db import check_identifier, ddl, final_table, staging_table
from mfpipe.errors import ConfigError
from mfpipe.layout import load_layout
from tests.support import ROOT

LAYOUTS = [ROOT / "mfpipe/data/customer.cpy", ROOT / "schemas/bank_master.cpy"]


def schema_of(path):
    record = load_layout(path).record()
    return record.table, DecodePlan.compile(record, DecodeOptions()).schema


def create_and_drop(url: str, path) -> list[str]:
    name, schema = schema_of(path)
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    dialect = dialects.of(engine)
    tables = [staging_table(metadata, name, schema, dialect), final_table(metadata, name, schema,
                                                                          dialect)]
    try:
        metadata.create_all(engine)
        return [c["name"] for c in sa.inspect(engine).get_columns(tables[0].name)]
    finally:
        metadata.drop_all(engine)
        engine.dispose()


class TestDdl:
    @pytest.mark.parametrize("path", LAYOUTS, ids=lambda p: p.stem)
    def test_sqlite_accepts_it(self, tmp_path, path):
        """The tables are created in a real SQLite file, lineage columns first."""
        columns = create_and_drop(f"sqlite:///{tmp_path / 't.db'}", path)
        assert columns[:4] == ["run_id", "worker_id", "chunk_id", "record_no"]

    @pytest.mark.parametrize("path", LAYOUTS, ids=lambda p: p.stem)
    def test_postgresql_accepts_it(self, postgres_url, path):
        """The tables are created in the real PostgreSQL server."""
        url = postgres_url.replace("postgresql://", "postgresql+psycopg://")
        columns = create_and_drop(url, path)
        assert len(columns) == 4 + len(schema_of(path)[1])

    def test_oracle_types(self):
        """Oracle DDL compiles with NUMBER(p, s), VARCHAR2(n CHAR) and BINARY_DOUBLE."""
        text = ddl(*schema_of(LAYOUTS[1]), dialects.get("oracle"))
        assert "NUMBER(13, 2)" in text and "CHAR)" in text and "BINARY_DOUBLE" in text

    def test_a_business_key_is_never_generated(self, postgres_url):
        """A single integer key column is a plain NOT NULL primary key: no SERIAL, no
        DEFAULT nextval(...) (SQLAlchemy's autoincrement would have made one)."""
        name, schema = schema_of(LAYOUTS[0])
        text = ddl(name, schema, dialects.get("postgresql"), ("cust_id",))
        assert "cust_id BIGINT NOT NULL" in text and "SERIAL" not in text.upper()
        engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
        table = final_table(sa.MetaData(), name, schema, dialects.get("postgresql"), ("cust_id",))
        try:
            table.create(engine)
            column = next(c for c in sa.inspect(engine).get_columns(name)
                          if c["name"] == "cust_id")
            assert column["default"] is None and column["autoincrement"] is False
        finally:
            table.drop(engine)
            engine.dispose()

    def test_sqlite_decimals_are_text(self):
        """SQLite keeps decimals as exact text, never REAL."""
        text = ddl("t", pa.schema([pa.field("amt", pa.decimal128(9, 2))]), dialects.get("sqlite"))
        assert "amt TEXT" in text


class TestIdentifiers:
    @pytest.mark.parametrize("name", ["acct_no", "a1", "x" * 63])
    def test_valid(self, name):
        """Lower-case names of letters, digits and underscores pass unchanged."""
        assert check_identifier(name) == name

    @pytest.mark.parametrize("name, fragment", [
        ("1abc", "start with a letter"), ("a-b", "start with a letter"),
        ('a"; drop table x; --', "start with a letter"), ("x" * 64, "limit is 63"),
        ("level", "reserved"), ("number", "reserved"), ("select", "reserved")])
    def test_invalid(self, name, fragment):
        """Injection, long names and reserved words of any dialect are refused, with the reason."""
        with pytest.raises(ConfigError, match=fragment):
            check_identifier(name)
