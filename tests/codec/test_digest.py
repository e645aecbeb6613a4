"""The canonical text the content hash is built from: decimals in plain notation."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from mfpipe.codec.digest import canonical_rows, plain_decimal_text


def plain(unscaled: int, scale: int) -> str:
    """The expected text, from the unscaled integer's digits alone."""
    digits = str(abs(unscaled)).rjust(scale + 1, "0")
    body = f"{digits[:-scale]}.{digits[-scale:]}" if scale else digits
    return f"-{body}" if unscaled < 0 else body


@st.composite
def decimal_column(draw) -> tuple[pa.DataType, list[int | None]]:
    """A decimal128 type of any precision and scale, and unscaled values that fit it
    (small ones, zeros and NULLs often)."""
    precision = draw(st.integers(1, 38))
    scale = draw(st.integers(0, precision))
    bound = 10**precision - 1
    small = min(bound, 999)
    unscaled = st.one_of(st.integers(-bound, bound), st.integers(-small, small), st.just(0))
    return pa.decimal128(precision, scale), draw(st.lists(st.none() | unscaled, min_size=1,
                                                          max_size=30))


@given(decimal_column())
def test_decimals_are_plain_text_with_scale_digits(column):
    """Every decimal is written with exactly ``scale`` fraction digits and no exponent, as
    PostgreSQL's numeric::text and Oracle's TO_CHAR write it (Arrow's cast writes 0E-7)."""
    arrow_type, unscaled = column
    values = [None if u is None else Decimal(f"{u}E-{arrow_type.scale}") for u in unscaled]
    text = plain_decimal_text(pa.array(values, arrow_type)).to_pylist()
    assert text == [None if u is None else plain(u, arrow_type.scale) for u in unscaled]


def test_a_zero_of_seven_decimal_places_in_a_row():
    """The case that made PostgreSQL's hash differ from the processors': 0 in SV9(7)."""
    batch = pa.RecordBatch.from_pylist([{"rate": Decimal(0), "n": 1}],
                                       schema=pa.schema([("rate", pa.decimal128(7, 7)),
                                                         ("n", pa.int32())]))
    assert canonical_rows(batch, ["rate", "n"]).to_pylist() == ["0.0000000|1"]
