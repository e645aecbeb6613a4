"""JSON Lines built a column at a time are byte for byte what ``json.dumps`` writes row by
row (the reference kept here): strings with quotes, backslashes and control characters,
decimals of every scale (the smallest included), dates, integers, booleans, nulls, floats and
nested lists."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpipe.pipeline.jsonlines import json_value, write_jsonl


def reference(batch: pa.RecordBatch) -> bytes:
    return "".join(json.dumps(row, default=json_value, ensure_ascii=False) + "\n"
                   for row in batch.to_pylist()).encode()


def written(batch: pa.RecordBatch | pa.Table) -> bytes:
    out = io.BytesIO()
    write_jsonl(out, batch)
    return out.getvalue()


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@st.composite
def batches(draw) -> pa.RecordBatch:
    n = draw(st.integers(1, 20))
    scale = draw(st.integers(0, 12))
    precision = draw(st.integers(max(scale, 1), 38))
    limit = 10 ** precision - 1
    unscaled = st.integers(-limit, limit)

    def maybe(values):
        return st.lists(st.one_of(st.none(), values), min_size=n, max_size=n)

    decimals = [None if v is None else Decimal(f"{v}E-{scale}")
                for v in draw(maybe(unscaled))]
    columns = {
        "name": pa.array(draw(maybe(TEXT)), pa.string()),
        "n": pa.array(draw(maybe(st.integers(-2**63, 2**63 - 1))), pa.int64()),
        "small": pa.array(draw(maybe(st.integers(-2**15, 2**15 - 1))), pa.int16()),
        "amount": pa.array(decimals, pa.decimal128(precision, scale)),
        "day": pa.array(draw(maybe(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)))),
                        pa.date32()),
        "flag": pa.array(draw(maybe(st.booleans())), pa.bool_()),
        "rate": pa.array(draw(maybe(st.floats(allow_nan=False, allow_infinity=False))),
                         pa.float64()),
        'odd "key"\n': pa.array(draw(maybe(st.integers(0, 9))), pa.int8()),
    }
    return pa.RecordBatch.from_pydict(columns)


class TestAgainstJsonDumps:
    @settings(max_examples=300, deadline=None)
    @given(batches())
    def test_byte_for_byte(self, batch):
        assert written(batch) == reference(batch)

    def test_every_escaped_character(self):
        text = "".join(chr(c) for c in range(0x20)) + '"\\\x7f\u2028é'
        batch = pa.RecordBatch.from_pydict({"s": [text, None, ""]})
        assert written(batch) == reference(batch)

    def test_the_smallest_decimals_in_plain_notation(self):
        batch = pa.RecordBatch.from_pydict({"d": pa.array(
            [Decimal("0E-7"), Decimal("1E-7"), Decimal("-0.0000012"), Decimal("12.5000000")],
            pa.decimal128(10, 7))})
        assert written(batch) == b'{"d": "0.0000000"}\n{"d": "0.0000001"}\n' \
            b'{"d": "-0.0000012"}\n{"d": "12.5000000"}\n'

    def test_nested_lists_and_tables(self):
        nested = pa.array([[{"a": 1, "b": Decimal("1.50")}], [], None],
                          pa.list_(pa.struct([("a", pa.int32()), ("b", pa.decimal128(5, 2))])))
        batch = pa.RecordBatch.from_pydict({"k": [1, 2, 3], "children": nested})
        assert written(batch) == reference(batch)
        table = pa.Table.from_batches([batch, batch])
        assert written(table) == reference(batch) * 2
        assert written(batch.slice(1, 2)) == reference(batch.slice(1, 2))
