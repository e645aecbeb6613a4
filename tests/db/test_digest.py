"""The content hash: what the processors compute in Python equals what each database computes
in SQL from the stored rows, for every hashed type, NULLs and awkward values included."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext

import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.codec.digest import EXACT, canonical_rows, content_hash, hash_columns, row_digests
from mfpipe.db import dialects
from mfpipe.db.digest import as_hash, exact_sums
from mfpipe.db.loaders import open_loader
from mfpipe.db.schema import final_table
from mfpipe.db.urls import create_engine
from mfpipe.errors import ConfigError

SCHEMA = pa.schema([
    ("name", pa.string()), ("count", pa.int64()), ("small", pa.int16()),
    ("amount", pa.decimal128(13, 2)), ("rate", pa.decimal128(5, 5)),
    ("whole", pa.decimal128(18, 0)), ("wide", pa.decimal128(30, 4)),
    ("tiny", pa.decimal128(12, 9)), ("day", pa.date32()),
    ("ratio", pa.float64()),
])
NUMBERS = ("count", "small", "amount", "rate", "whole", "wide", "tiny")
COLUMNS = hash_columns(SCHEMA)

row = st.fixed_dictionaries({
    "name": st.none() | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                max_size=12),
    "count": st.none() | st.integers(-2**63, 2**63 - 1),
    "small": st.none() | st.integers(-2**15, 2**15 - 1),
    "amount": st.none() | st.integers(-10**13 + 1, 10**13 - 1).map(lambda v: Decimal(v).scaleb(-2)),
    "rate": st.none() | st.integers(-10**5 + 1, 10**5 - 1).map(lambda v: Decimal(v).scaleb(-5)),
    "whole": st.none() | st.integers(-10**18 + 1, 10**18 - 1).map(Decimal),
    "wide": st.none() | st.integers(-10**30 + 1, 10**30 - 1).map(lambda v: Decimal(f"{v}E-4")),
    # scale > 6: Arrow's own text for 0 or 1E-9 has an exponent; the databases' has none
    "tiny": st.none() | st.one_of(st.integers(-10**12 + 1, 10**12 - 1), st.integers(-9, 9))
    .map(lambda v: Decimal(f"{v}E-9")),
    "day": st.none() | st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    "ratio": st.none() | st.floats(allow_nan=False, allow_infinity=False),
})



def stored_hash(db_url: str, batch: pa.RecordBatch, nul_free: bool = False
                ) -> tuple[int, list[int]]:
    """Load ``batch`` with mfpipe's own loader, then hash it in SQL: (sum, per-row digests)."""
    engine = create_engine(db_url)
    dialect = dialects.of(engine)
    schema = batch.schema
    table = final_table(sa.MetaData(), "digest_probe", schema, dialect)
    table.drop(engine, checkfirst=True)
    table.create(engine)
    with open_loader(db_url) as loader:
        loader.load(table.name, batch.append_column("last_run_id",
                                                    pa.array(["r"] * batch.num_rows)))
        loader.commit()
    row_text = dialect.canonical_row(table, dict(zip(schema.names, schema.types)),
                                     hash_columns(schema), nul_free)
    with engine.connect() as c:
        total = c.execute(sa.select(dialect.digest_sum(row_text))).scalar_one()
        rows = [as_hash(v) for (v,) in c.execute(
            sa.select(dialect.row_digest(row_text)).order_by(table.c[schema.names[1]]))]
    engine.dispose()
    return as_hash(total), rows


class TestSameHashInPythonAndSql:
    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=st.lists(row, min_size=1, max_size=40), nul_free=st.booleans())
    def test_any_rows(self, db_url, rows, nul_free):
        """For any values of every hashed type, the database's sum equals the processors',
        with either form of SQLite's row (the strings here hold no U+0000)."""
        batch = pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
        assert stored_hash(db_url, batch, nul_free)[0] == content_hash(batch, COLUMNS)

    def test_nul_in_a_string(self, db_url):
        """A string holding U+0000 (low-values kept) hashes alike; SQLite's faster printf
        row would stop at it, which is why it is only for runs that cannot hold one."""
        rows = [{"name": "ab\x00cd", "count": 1}, {"name": "\x00", "count": 2}]
        batch = pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
        if not db_url.startswith("sqlite"):
            pytest.skip("PostgreSQL text cannot hold U+0000")
        assert stored_hash(db_url, batch)[0] == content_hash(batch, COLUMNS)
        assert stored_hash(db_url, batch, nul_free=True)[0] != content_hash(batch, COLUMNS)

    def test_wide_rows(self, db_url):
        """A row of more columns than one SQLite printf takes (127 arguments)."""
        schema = pa.schema([("name", pa.string())]
                           + [(f"n{i}", pa.int32()) for i in range(1, 260)])
        rows = [{"name": f"r{r}", **{f"n{i}": (i * r if (i + r) % 7 else None)
                                     for i in range(1, 260)}} for r in range(3)]
        batch = pa.RecordBatch.from_pylist(rows, schema=schema)
        expected = [int(d) for d in row_digests(canonical_rows(batch, hash_columns(schema)))]
        for nul_free in (False, True):
            assert stored_hash(db_url, batch, nul_free)[1] == expected

    def test_row_by_row(self, db_url):
        """Each row's digest is the same on both sides (what narrowing to records relies on)."""
        rows = [{"name": "Zoë|x", "count": i, "small": -i, "amount": Decimal("-0.05"),
                 "rate": Decimal("0.00001"), "whole": Decimal(i), "day": dt.date(2024, 2, 29),
                 "ratio": 1.5} for i in range(5)] + [dict.fromkeys(SCHEMA.names, None)]
        rows[-1]["count"] = 99
        batch = pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
        expected = [int(d) for d in row_digests(canonical_rows(batch, COLUMNS))]
        assert stored_hash(db_url, batch)[1] == expected

    def test_dates_hash_alike_whatever_the_server_datestyle(self, postgres_url):
        """PostgreSQL hashes dates as ``date::text``, which follows DateStyle: mfpipe's
        connections set it to ISO, so a server (or URL) defaulting to another still hashes
        ``YYYY-MM-DD``."""
        url = postgres_url.replace("options=", "options=-cDateStyle%3DGerman%20")
        with create_engine(url).connect() as c:
            assert c.execute(sa.text("SELECT DATE '2024-02-29'::text")).scalar_one() == \
                "2024-02-29"
        rows = [{"count": 1, "day": dt.date(2024, 2, 29)}, {"count": 2, "day": dt.date(1, 1, 1)}]
        batch = pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
        assert stored_hash(url, batch)[0] == content_hash(batch, COLUMNS)

    def test_duplicates_do_not_cancel(self):
        """A row twice is not the same as the row absent (the reason not to use XOR)."""
        one = pa.RecordBatch.from_pylist([{"name": "a", "count": 1}], schema=SCHEMA)
        two = pa.RecordBatch.from_pylist([{"name": "a", "count": 1}] * 2, schema=SCHEMA)
        assert content_hash(two, COLUMNS) not in (0, content_hash(one, COLUMNS))


class TestExactSums:
    def test_decimal_sums_are_exact(self, db_url):
        """Sums of decimals are exact on every database (SQLite keeps decimals as text)."""
        amounts = [Decimal("0.10"), Decimal("0.20"), Decimal("12345678901.99"), None]
        batch = pa.RecordBatch.from_pylist([{"count": i, "amount": a}
                                            for i, a in enumerate(amounts)], schema=SCHEMA)
        stored_hash(db_url, batch)
        engine = create_engine(db_url)
        table = final_table(sa.MetaData(), "digest_probe", SCHEMA, dialects.of(engine))
        with engine.connect() as c:
            assert exact_sums(c, [(table.c.amount, SCHEMA.field("amount").type)],
                              sa.true()) == [Decimal("12345678902.29")]
        engine.dispose()

    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=st.lists(row, min_size=1, max_size=40))
    def test_any_sums_are_exact(self, db_url, rows):
        """Integers and decimals of every width, whose totals pass 2**63 (SQLite sums the
        halves of 18-digit ones natively, wider ones in Python): exact to the last digit."""
        batch = pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
        stored_hash(db_url, batch)
        engine = create_engine(db_url)
        table = final_table(sa.MetaData(), "digest_probe", SCHEMA, dialects.of(engine))
        with engine.connect() as c:
            found = exact_sums(c, [(table.c[n], SCHEMA.field(n).type) for n in NUMBERS],
                               sa.true())
        engine.dispose()
        with localcontext(EXACT):
            assert found == [sum((Decimal(r[n]) for r in rows if r[n] is not None), Decimal(0))
                             for n in NUMBERS]


class TestColumns:
    def test_floats_are_not_hashed_by_default(self):
        """Floats print differently on every database, so the default leaves them out."""
        assert "ratio" not in COLUMNS and "amount" in COLUMNS

    def test_unhashable_column_is_refused(self):
        """Asking to hash a float column is a configuration error naming it."""
        with pytest.raises(ConfigError, match="ratio"):
            hash_columns(SCHEMA, ["ratio"])


class TestOracleSql:
    def test_digest_compiles_for_oracle(self):
        """The Oracle form uses STANDARD_HASH, a fixed-scale TO_CHAR for decimals and binds."""
        oracle = dialects.get("oracle")
        table = final_table(sa.MetaData(), "digest_probe", SCHEMA, oracle)
        text = oracle.canonical_row(table, dict(zip(SCHEMA.names, SCHEMA.types)), COLUMNS)
        sql = str(sa.select(oracle.digest_sum(text)).compile(dialect=oracle.sqlalchemy()))
        assert "standard_hash(" in sql.lower() and "to_number(" in sql.lower()
        assert "to_char(digest_probe.amount" in sql.lower()
        compiled = sa.select(oracle.digest_sum(text)).compile(dialect=oracle.sqlalchemy())
        assert "FM99999999990.00" in compiled.params.values()
