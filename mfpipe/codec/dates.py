"""Fields declared as dates (``YYYYMMDD``, ``CYYMMDD``, ``YYYY-MM-DD`` ...) into Arrow date32.

The digits come from the field's decoded number or, for text fields, from the bytes at the
format's positions. Year, month and day are checked (leap years included) with NumPy, and
the date is built with datetime64 arithmetic. Zero or blank means "no date" and is NULL.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mfpipe.codec.charsets import charset
from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.layout import Category, Field

_PIVOT = 50  # two-digit years below 50 are 20yy, the rest 19yy


def _digit_columns(values: np.ndarray, count: int) -> np.ndarray:
    """The decimal digits of non-negative int64 values as a [rows, count] matrix."""
    powers = 10 ** np.arange(count - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


def _component(digits: np.ndarray, letters: str, letter: str) -> np.ndarray | None:
    where = [i for i, c in enumerate(letters) if c == letter]
    if not where:
        return None
    return (digits[:, where] * 10 ** np.arange(len(where) - 1, -1, -1)).sum(axis=1)


def to_dates(matrix: np.ndarray, base: DecodedColumn, field: Field, fmt: str,
             options: DecodeOptions) -> DecodedColumn:
    """Turn a decoded column (or, for text, the raw bytes) into dates in format ``fmt``."""
    letters = "".join(c for c in fmt if c in "CYMD")
    if field.category is Category.ALPHANUMERIC:
        chars = charset(options.encoding).ascii[matrix].astype(np.int64)
        keep = [i for i, c in enumerate(fmt) if c in "CYMD"]
        digits = chars[:, keep] - ord("0") if len(fmt) == matrix.shape[1] else None
        # blank or zero in every digit position (separators aside: 0000-00-00) is no date
        positions = chars if digits is None else chars[:, keep]
        blank = np.isin(positions, (ord(" "), ord("0"))).all(axis=1) | (chars == 0).all(axis=1)
        not_digits = np.ones(len(matrix), bool) if digits is None else (
            (digits < 0) | (digits > 9)).any(axis=1)
        if digits is None:
            digits = np.zeros((len(matrix), len(letters)), dtype=np.int64)
        digits = np.clip(digits, 0, 9)
        null = blank | np.asarray(base.values.is_null())
    else:
        values = np.asarray(base.values.fill_null(0).cast(pa.int64()), dtype=np.int64)
        null = (values == 0) | np.asarray(base.values.is_null())
        not_digits = (values < 0) | (values >= 10 ** len(letters))
        digits = _digit_columns(np.abs(values), len(letters))
    year, day = _component(digits, letters, "Y"), _component(digits, letters, "D")
    assert year is not None and day is not None  # every date format has both
    if "YYYY" not in fmt:
        century = _component(digits, letters, "C")
        century = np.less(year, _PIVOT).astype(np.int64) if century is None else century
        year = 1900 + 100 * century + year
    month = _component(digits, letters, "M")
    if month is None:  # Julian: YYYYDDD
        month, day_of_year = np.ones_like(year), day
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        bad = (day_of_year < 1) | (day_of_year > 365 + leap)
        years = (np.clip(year, 1, 9999) - 1970).astype("datetime64[Y]")
        month_start = years.astype("datetime64[D]")
        dates = month_start + (np.clip(day_of_year, 1, 366) - 1).astype("timedelta64[D]")
    else:
        start = ((np.clip(year, 1, 9999) - 1970).astype("datetime64[Y]")
                 + (np.clip(month, 1, 12) - 1).astype("timedelta64[M]"))
        days_in_month = ((start + np.timedelta64(1, "M")).astype("datetime64[D]")
                         - start.astype("datetime64[D]")).astype(np.int64)
        bad = (month < 1) | (month > 12) | (day < 1) | (day > days_in_month)
        dates = start.astype("datetime64[D]") + (np.clip(day, 1, 31) - 1).astype("timedelta64[D]")
    bad = (bad | (year < 1) | not_digits) & ~null
    reasons = merge_reasons((bad, Reason.BAD_DATE))
    if base.reasons is not None:
        reasons = base.reasons if reasons is None else np.where(base.reasons != 0, base.reasons,
                                                                reasons)
    epoch_days = dates.astype(np.int64).astype(np.int32)
    return DecodedColumn(pa.array(epoch_days, type=pa.date32(), mask=null | bad), reasons)
