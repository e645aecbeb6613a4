"""Date columns: YYYYMMDD, CYYMMDD, YYYYDDD, YYYY-MM-DD and friends, with leap years."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from mfpipe.codec import DecodeOptions, DecodePlan, Reason
from mfpipe.errors import ConfigError
from tests.codec.helpers import column, decode, record, reject, rejects

DATES = """
01  REC.
    05  D8   PIC 9(8).
    05  C7   PIC 9(7).
    05  J7   PIC 9(7) COMP-3.
    05  ISO  PIC X(10).
"""
FORMATS = (("d8", "YYYYMMDD"), ("c7", "CYYMMDD"), ("j7", "YYYYDDD"), ("iso", "YYYY-MM-DD"))


def _row(d8: str, c7: str, julian: str, iso: str) -> bytes:
    """One record: zoned YYYYMMDD, zoned CYYMMDD, packed YYYYDDD (7 digits + F), text date."""
    return (d8.encode("cp037") + c7.encode("cp037") + bytes.fromhex(julian + "F")
            + iso.encode("cp037"))


class TestFormats:
    def test_every_format_reads_the_same_date(self):
        """Feb 29 2024 in each of the four formats is the same date32 value."""
        out = decode(DATES, [_row("20240229", "1240229", "2024060", "2024-02-29"),
                             _row("19991231", "0991231", "1999365", "1999-12-31")],
                     dates=FORMATS)
        assert rejects(out) == []
        for name, _ in FORMATS:
            assert out.batch.schema.field(name).type == pa.date32()
            assert column(out, name) == [dt.date(2024, 2, 29), dt.date(1999, 12, 31)]

    @pytest.mark.parametrize("row, field", [
        (("20230229", "1240229", "2024060", "2024-02-29"), "D8"),
        (("20240229", "1230229", "2024060", "2024-02-29"), "C7"),
        (("20240229", "1240229", "2023366", "2024-02-29"), "J7"),
        (("20240229", "1240229", "2024060", "2023-02-29"), "ISO"),
    ])
    def test_feb_29_of_a_common_year_is_rejected(self, row, field):
        """Feb 29 (day 366) is valid in 2024 and invalid in 2023, in every format."""
        out = decode(DATES, [_row(*row)], dates=FORMATS)
        assert rejects(out) == [reject(1, field, Reason.BAD_DATE)]

    @pytest.mark.parametrize("row, field", [
        (("20241301", "1240229", "2024060", "2024-02-29"), "D8"),
        (("20240100", "1240229", "2024060", "2024-02-29"), "D8"),
        (("20240431", "1240229", "2024060", "2024-02-29"), "D8"),
        (("20240229", "1241301", "2024060", "2024-02-29"), "C7"),
        (("20240229", "1240229", "2024000", "2024-02-29"), "J7"),
        (("20240229", "1240229", "2024060", "2024-13-01"), "ISO"),
        (("20240229", "1240229", "2024060", "2024-02-3X"), "ISO"),
    ])
    def test_impossible_dates_are_rejected(self, row, field):
        """Month 13, day 0, April 31, day-of-year 0 and non-digits are BAD_DATE rejects."""
        out = decode(DATES, [_row(*row)], dates=FORMATS)
        assert rejects(out) == [reject(1, field, Reason.BAD_DATE)]

    def test_zero_and_blank_are_null(self):
        """Zero (or a blank or zero text date) means "no date" and decodes as NULL."""
        out = decode(DATES, [_row("00000000", "0000000", "0000000", "          "),
                             _row("00000000", "0000000", "0000000", "0000-00-00")],
                     dates=FORMATS)
        assert rejects(out) == []
        for name, _ in FORMATS:
            assert column(out, name) == [None, None]

    def test_two_digit_years_pivot_at_50(self):
        """YYMMDD and YYDDD read years below 50 as 20yy and the rest as 19yy."""
        out = decode("""
        01  REC.
            05  A  PIC 9(6).
            05  B  PIC 9(5).
        """, ["49123150001".encode("cp037")], dates=(("a", "YYMMDD"), ("b", "YYDDD")))
        assert column(out, "a") == [dt.date(2049, 12, 31)]
        assert column(out, "b") == [dt.date(1950, 1, 1)]

    @pytest.mark.parametrize("fmt, text, expected", [
        ("DD.MM.YYYY", "29.02.2024", dt.date(2024, 2, 29)),
        ("MM/DD/YYYY", "02/29/2024", dt.date(2024, 2, 29)),
        ("DD/MM/YYYY", "31/12/1999", dt.date(1999, 12, 31)),
    ])
    def test_text_formats(self, fmt, text, expected):
        """Text dates take their digits at the format's positions."""
        out = decode("""
        01  REC.
            05  D  PIC X(10).
        """, [text.encode("cp037")], dates=(("d", fmt),))
        assert column(out, "d") == [expected]

    def test_binary_date(self):
        """A date held in a binary field (S9(8) COMP) reads from its integer value."""
        out = decode("""
        01  REC.
            05  D  PIC S9(8) COMP.
        """, [(20240229).to_bytes(4, "big"), (-20240229).to_bytes(4, "big", signed=True)],
            dates=(("d", "YYYYMMDD"),))
        assert column(out, "d") == [dt.date(2024, 2, 29)]
        assert rejects(out) == [reject(2, "D", Reason.BAD_DATE)]

    def test_underlying_reject_wins(self):
        """A date field whose bytes are not even a number keeps the number's reason."""
        out = decode(DATES, [_row("2024X229", "1240229", "2024060", "2024-02-29")],
                     dates=FORMATS)
        assert rejects(out) == [reject(1, "D8", Reason.ZONED_DIGIT)]


class TestConfiguration:
    def test_unknown_format(self):
        """A date format outside the supported list is a ConfigError naming the column."""
        with pytest.raises(ConfigError) as info:
            DecodeOptions(dates=(("d8", "YYYY/DD/MM"),))
        assert "d8" in info.value.message

    def test_unknown_column(self):
        """A date option for a column the record lacks fails when the plan is compiled."""
        with pytest.raises(ConfigError) as info:
            DecodePlan.compile(record(DATES), DecodeOptions(dates=(("nope", "YYYYMMDD"),)))
        assert "nope" in info.value.message
