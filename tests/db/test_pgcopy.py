"""The binary COPY encoder against the real PostgreSQL: what goes in reads back exactly.

Hypothesis draws rows for every Arrow type the decoders produce (NULLs everywhere, decimals
narrow and 128-bit wide, negative, text beyond ASCII, empty strings); the encoder's bytes go
through ``COPY ... FROM STDIN (FORMAT binary)`` and every value is read back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import hypothesis.strategies as st
import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from mfpipe.db import dialects
from mfpipe.db.loaders import open_loader
from mfpipe.db.loaders.pgcopy import encode
from mfpipe.db.schema import final_table
from mfpipe.db.urls import create_engine
from mfpipe.errors import ConfigError

DECIMALS = [(5, 5), (9, 2), (13, 2), (18, 0), (18, 7), (19, 4), (31, 4), (38, 0), (38, 38)]
SCHEMA = pa.schema(
    [pa.field("id", pa.int64()), pa.field("i8", pa.int8()), pa.field("i16", pa.int16()),
     pa.field("i32", pa.int32()), pa.field("f64", pa.float64()), pa.field("day", pa.date32()),
     pa.field("text", pa.string()), pa.field("big_text", pa.large_string()),
     pa.field("blob", pa.binary()), pa.field("stamp", pa.timestamp("us"))]
    + [pa.field(f"d_{p}_{s}", pa.decimal128(p, s)) for p, s in DECIMALS])


def _decimal(precision: int, scale: int) -> st.SearchStrategy:
    limit = 10 ** precision - 1
    return st.integers(-limit, limit).map(lambda u: Decimal(f"{u}E-{scale}"))


def _column(field: pa.Field) -> st.SearchStrategy:
    kind = field.type
    if pa.types.is_decimal(kind):
        values = _decimal(kind.precision, kind.scale)
    elif pa.types.is_integer(kind):
        values = st.integers(-(2 ** (kind.bit_width - 1)), 2 ** (kind.bit_width - 1) - 1)
    elif pa.types.is_floating(kind):
        values = st.floats(allow_nan=False, allow_infinity=False)
    elif pa.types.is_date32(kind):
        values = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
    elif pa.types.is_timestamp(kind):
        values = st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31))
    elif pa.types.is_binary(kind):
        values = st.binary(max_size=12)
    else:
        values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                         max_size=12)
    return st.one_of(st.none(), values)


@st.composite
def batches(draw) -> pa.RecordBatch:
    n = draw(st.integers(0, 30))
    columns = {"id": list(range(n))}
    for field in SCHEMA:
        if field.name != "id":
            columns[field.name] = draw(st.lists(_column(field), min_size=n, max_size=n))
    batch = pa.RecordBatch.from_pydict(columns, schema=SCHEMA)
    start = draw(st.integers(0, n))  # a slice: buffers that start at an offset
    return batch.slice(start)


@pytest.fixture(scope="module")
def target(postgres_server):
    """A module-wide table of SCHEMA (emptied per example) and the URL to load it."""
    url = postgres_server
    engine = create_engine(url)
    table = final_table(sa.MetaData(), "t_pgcopy", SCHEMA.remove(SCHEMA.get_field_index("stamp")),
                        dialects.get("postgresql"))
    table.append_column(sa.Column("stamp", sa.DateTime))  # as the control tables' timestamps
    table.drop(engine, checkfirst=True)
    table.create(engine)
    yield url, engine, table
    table.drop(engine, checkfirst=True)
    engine.dispose()


def _reloaded(target, batch: pa.RecordBatch) -> list[dict]:
    """Empty the table, load ``batch`` as the pipeline does (prepare, load), read it back."""
    url, engine, table = target
    with engine.begin() as c:
        c.execute(sa.delete(table))
    with open_loader(url) as loader:
        loader.load("t_pgcopy", loader.prepare(batch))
        loader.commit()
    return _stored(engine, table)


def _stored(engine, table) -> list[dict]:
    with engine.connect() as c:
        rows = [dict(r) for r in c.execute(sa.select(table).order_by(table.c.id)).mappings()]
    for row in rows:
        row.pop("last_run_id")
        if row["blob"] is not None:
            row["blob"] = bytes(row["blob"])
    return rows


class TestRoundTrip:
    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(batch=batches())
    def test_every_value_reads_back_exactly(self, target, batch):
        """Whatever the types, NULLs, signs, widths and offsets: stored == sent."""
        rows = batch.append_column("last_run_id", pa.array(["r"] * batch.num_rows, pa.string()))
        assert _reloaded(target, rows) == batch.to_pylist()

    def test_128_bit_edges(self, target):
        """Values whose low 64 bits are zero (the two's-complement carry), the extremes."""
        values = [Decimal(v) for v in (-(2**64), -(3 * 2**64), 2**64, 10**38 - 1,
                                       -(10**38 - 1), -1, 0)]
        batch = pa.RecordBatch.from_pydict(
            {"id": list(range(len(values))), "d_38_0": pa.array(values, pa.decimal128(38, 0)),
             "last_run_id": ["r"] * len(values)})
        assert [r["d_38_0"] for r in _reloaded(target, batch)] == values

    def test_uniform_and_mixed_widths_give_the_same_rows(self, target):
        """A string column of one width goes in the fixed block, else it is prefixed: the
        database cannot tell."""
        for names in (["AB", "CD"], ["AB", "C"], ["", ""]):
            batch = pa.RecordBatch.from_pydict(
                {"id": [1, 2], "text": names, "last_run_id": ["r", "r"]})
            assert [r["text"] for r in _reloaded(target, batch)] == names


class TestEncoding:
    def test_layout_of_one_row(self):
        """The exact bytes of PostgreSQL's format: signature, field count, length-prefixed
        big-endian values, numeric digits aligned on the decimal point, trailer."""
        batch = pa.RecordBatch.from_pydict(
            {"n": pa.array([7], pa.int32()),
             "d": pa.array([Decimal("-1234.5")], pa.decimal128(7, 2)),
             "s": pa.array([None], pa.string())})
        copy = encode(batch)
        assert copy.columns == ("n", "d", "s") and copy.num_rows == 1
        # NUMERIC(7, 2) always has 3 digits: 2 before the point (weight 1), 1 after
        numeric = (b"\x00\x03\x00\x01\x40\x00\x00\x02"  # digits, weight, negative, dscale
                   b"\x00\x00\x04\xd2\x13\x88")  # 0, 1234, 5000
        assert copy.data == (b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"\x00\x03"
                             + b"\x00\x00\x00\x04\x00\x00\x00\x07"
                             + len(numeric).to_bytes(4, "big") + numeric
                             + b"\xff\xff\xff\xff" + b"\xff\xff")

    def test_unsupported_type_is_a_clear_error(self):
        with pytest.raises(ConfigError, match="ts"):
            encode(pa.RecordBatch.from_pydict({"ts": pa.array([[1]], pa.list_(pa.int8()))}))

    def test_unsigned_overflow_is_a_clear_error(self):
        with pytest.raises(ConfigError, match="u16"):
            encode(pa.RecordBatch.from_pydict({"u16": pa.array([65535], pa.uint16())}))
