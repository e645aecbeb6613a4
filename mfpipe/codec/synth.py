"""Realistic values for any record layout, for ``mfpipe gen``, the demo and benchmarks.

Values respect each field's PIC (digits, scale, sign), its level-88 values, declared dates
and OCCURS DEPENDING ON ranges, so that every generated record is valid until it is
deliberately corrupted. Generation is vectorized per column with a seeded NumPy generator.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from mfpipe.codec.options import DecodeOptions
from mfpipe.layout import Category, Field, RecordLayout, Usage

_WORDS = np.array(["SMITH", "JONES", "GARCIA", "MULLER", "ROSSI", "DUBOIS", "NOVAK", "SILVA",
                   "KOWALSKI", "TANAKA", "OKAFOR", "HANSEN", "MAIN ST", "HIGH ST", "PARK AVE",
                   "LONDON", "ZURICH", "TORONTO", "CHICAGO", "MADRID", "SAVINGS", "CHECKING",
                   "MORTGAGE", "ANNUITY", "POLICY", "CLAIM", "PREMIUM", "BRANCH"])
_NATIONAL = np.array(["MÜLLER", "ŁÓDŹ", "ΑΘΗΝΑ", "東京", "SÃO PAULO", "ZÜRICH", "OSLO"])
_DAYS_1970_TO_2030 = 21915


def synthesize(record: RecordLayout, n: int, seed: int = 0,
               options: DecodeOptions | None = None) -> dict[str, Any]:
    """A column of ``n`` valid values for every field (unscaled integers for numbers)."""
    options = options or DecodeOptions()
    if n == 0:  # NumPy's string padding fails on empty arrays: make one value, keep none
        one = synthesize(record, 1, seed, options)
        return {column: values[:0] for column, values in one.items()}
    rng = np.random.default_rng(seed)
    dates = options.date_formats
    counters = {f.odo.count_column: f.odo for f in record.fields if f.odo is not None}
    values: dict[str, Any] = {}
    for f in record.fields:
        if f.redefining:
            continue
        if f.column in counters:
            table = counters[f.column]
            values[f.column] = rng.integers(table.min_count, table.max_count + 1, n)
        elif f.column in dates:
            values[f.column] = _dates(rng, n, dates[f.column])
        else:
            values[f.column] = _values(f, rng, n)
    return values


def _values(f: Field, rng: np.random.Generator, n: int) -> Any:
    allowed = [v for c in f.conditions for v in c.values if v not in ("SPACE", "SPACES")]
    if f.category is Category.ALPHANUMERIC:
        if allowed:
            return rng.choice(np.array(allowed), n)
        return np.char.ljust(rng.choice(_WORDS, n), f.size).astype(f"<U{f.size}")
    if f.category is Category.NATIONAL:
        return rng.choice(_NATIONAL, n).astype(f"<U{f.size // 2}")
    if f.category is Category.FLOAT:
        if f.usage is Usage.COMP_1:  # 20 significant bits: exact in IBM single precision
            return rng.integers(-(2**20), 2**20, n) / 64.0
        return np.round(rng.normal(0, 1e6, n), 6)
    if allowed and all(v.lstrip("+-").isdigit() for v in allowed):
        return rng.choice(np.array([int(v) for v in allowed]), n)
    digits = f.digits
    if f.usage in (Usage.COMP, Usage.COMP_5):
        digits = min(digits, {2: 4, 4: 9, 8: 18}[f.size])
    return _numbers(rng, n, digits, f.signed)


def _numbers(rng: np.random.Generator, n: int, digits: int, signed: bool) -> Any:
    """Magnitudes spread over every order (small amounts as often as large ones)."""
    if digits <= 18:
        magnitude = rng.integers(0, digits + 1, n)
        values = rng.integers(0, 10 ** np.maximum(magnitude, 1).astype(np.int64), n)
        values = np.minimum(values, 10**digits - 1)
        return np.where(rng.random(n) < 0.3, -values, values) if signed else values
    highs = _numbers(rng, n, digits - 18, False)
    lows = rng.integers(0, 10**18, n)
    ints = [int(h) * 10**18 + int(lo) for h, lo in zip(highs.tolist(), lows.tolist())]
    negative = (rng.random(n) < 0.3) & signed
    return np.array([-v if neg else v for v, neg in zip(ints, negative.tolist())], dtype=object)


def _dates(rng: np.random.Generator, n: int, fmt: str) -> Any:
    """Valid dates between 1970 and 2030 in ``fmt``: integers, or strings when it has separators."""
    days = rng.integers(0, _DAYS_1970_TO_2030, n).astype("datetime64[D]")
    year_start = days.astype("datetime64[Y]")
    month_start = days.astype("datetime64[M]")
    year = year_start.astype(np.int64) + 1970
    parts = {
        "YYYY": (year, 4), "YY": (year % 100, 2), "C": ((year >= 2000).astype(np.int64), 1),
        "MM": (month_start.astype(np.int64) % 12 + 1, 2),
        "DDD": ((days - year_start.astype("datetime64[D]")).astype(np.int64) + 1, 3),
        "DD": ((days - month_start.astype("datetime64[D]")).astype(np.int64) + 1, 2),
    }
    tokens = re.findall(r"YYYY|YY|C|MM|DDD|DD|[^A-Z]", fmt)
    if any(t not in parts for t in tokens):  # separators: text dates
        text = np.full(n, "", dtype="<U10")
        for token in tokens:
            piece = (np.char.zfill(parts[token][0].astype(str), parts[token][1])
                     if token in parts else token)
            text = np.char.add(text, piece)
        return text
    value = np.zeros(n, dtype=np.int64)
    for token in tokens:
        number, width = parts[token]
        value = value * 10**width + number
    return value
