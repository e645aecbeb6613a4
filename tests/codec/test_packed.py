"""Packed decimal (COMP-3, COMP-3U): every sign nibble, invalid nibbles, widths up to 37 digits."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from mfpipe.codec import Reason
from tests.codec.helpers import column, decode, record, reject, rejects

AMOUNT = """
01  REC.
    05  AMT  PIC S9(5)V99 COMP-3.
"""


class TestSignNibbles:
    @pytest.mark.parametrize("nibble, expected", [
        ("A", Decimal("12345.67")), ("C", Decimal("12345.67")), ("E", Decimal("12345.67")),
        ("F", Decimal("12345.67")), ("B", Decimal("-12345.67")), ("D", Decimal("-12345.67"))])
    def test_all_six_sign_nibbles(self, nibble, expected):
        """A, C, E and F mean plus; B and D mean minus (Principles of Operation)."""
        out = decode(AMOUNT, [bytes.fromhex("1234567" + nibble)])
        assert column(out, "amt") == [expected]
        assert rejects(out) == []

    @pytest.mark.parametrize("nibble", "0123456789")
    def test_digit_in_sign_position_is_rejected(self, nibble):
        """A sign nibble 0-9 is invalid data: the record is rejected naming the field."""
        out = decode(AMOUNT, [bytes.fromhex("1234567" + nibble)])
        assert rejects(out) == [reject(1, "AMT", Reason.PACKED_SIGN)]
        assert out.batch.num_rows == 0

    @pytest.mark.parametrize("data", ["1A34567C", "F234567C", "123456AC", "1234567C"[:6] + "FC"])
    def test_digit_nibble_above_nine_is_rejected(self, data):
        """Any digit nibble A-F (including the one sharing the sign byte) rejects the record."""
        out = decode(AMOUNT, [bytes.fromhex(data)])
        assert rejects(out) == [reject(1, "AMT", Reason.PACKED_DIGIT)]

    def test_preferred_signs_of_zero(self):
        """Zero decodes as zero with either sign (negative zero is not a distinct value)."""
        out = decode(AMOUNT, [bytes.fromhex("0000000C"), bytes.fromhex("0000000D")])
        assert column(out, "amt") == [Decimal("0.00"), Decimal("0.00")]

    @pytest.mark.parametrize("nibble", "ABE")
    def test_strict_signs_refuses_loose_nibbles(self, nibble):
        """With strict_signs the A, B and E sign nibbles are rejected with their own reason."""
        out = decode(AMOUNT, [bytes.fromhex("1234567" + nibble)], strict_signs=True)
        assert rejects(out) == [reject(1, "AMT", Reason.STRICT_SIGN)]

    @pytest.mark.parametrize("nibble, expected", [
        ("C", Decimal("1.00")), ("D", Decimal("-1.00")), ("F", Decimal("1.00"))])
    def test_strict_signs_accepts_preferred_nibbles(self, nibble, expected):
        """strict_signs still accepts the C, D and F sign nibbles."""
        out = decode(AMOUNT, [bytes.fromhex("0000100" + nibble)], strict_signs=True)
        assert column(out, "amt") == [expected]


class TestUnsigned:
    UNSIGNED = """
    01  REC.
        05  QTY  PIC 9(5) COMP-3.
    """

    def test_f_sign_nibble(self):
        """PIC 9(n) COMP-3 normally carries the F nibble and decodes to a plain integer."""
        out = decode(self.UNSIGNED, [bytes.fromhex("12345F"), bytes.fromhex("00001F")])
        assert column(out, "qty") == [12345, 1]
        assert out.batch.schema.field("qty").type == pa.int32()

    def test_plus_nibble_is_accepted(self):
        """An unsigned field written with a C nibble is still a valid positive value."""
        out = decode(self.UNSIGNED, [bytes.fromhex("12345C")])
        assert column(out, "qty") == [12345]

    def test_minus_nibble_is_rejected(self):
        """A minus sign in an unsigned field is a reject, not a silently negated value."""
        out = decode(self.UNSIGNED, [bytes.fromhex("12345D"), bytes.fromhex("12345B")])
        assert rejects(out) == [reject(1, "QTY", Reason.NEGATIVE_UNSIGNED),
                                reject(2, "QTY", Reason.NEGATIVE_UNSIGNED)]

    def test_even_digit_count_needs_a_zero_spare_nibble(self):
        """PIC S9(4) takes 3 bytes; a non-zero first (spare) nibble is a fifth digit: rejected."""
        even = """
        01  REC.
            05  N  PIC S9(4) COMP-3.
        """
        out = decode(even, [bytes.fromhex("09999C"), bytes.fromhex("19999C")])
        assert column(out, "n") == [9999]
        assert rejects(out) == [reject(2, "N", Reason.TOO_MANY_DIGITS)]


class TestComp3U:
    def test_even_digits_have_no_sign_nibble(self):
        """COMP-3U PIC 9(6) is 3 bytes of 6 digits, no sign nibble."""
        rec = record("""
        01  REC.
            05  N  PIC 9(6) COMP-3U.
        """)
        assert rec.fields[0].size == 3
        out = decode(rec, [bytes.fromhex("123456"), bytes.fromhex("000000"),
                           bytes.fromhex("999999")])
        assert column(out, "n") == [123456, 0, 999999]

    def test_odd_digits_leave_a_zero_first_nibble(self):
        """COMP-3U PIC 9(5) is 3 bytes whose first nibble must be zero."""
        rec = record("""
        01  REC.
            05  N  PIC 9(5) COMP-3U.
        """)
        assert rec.fields[0].size == 3
        out = decode(rec, [bytes.fromhex("012345"), bytes.fromhex("112345")])
        assert column(out, "n") == [12345]
        assert rejects(out) == [reject(2, "N", Reason.TOO_MANY_DIGITS)]

    def test_sign_nibble_is_an_invalid_digit(self):
        """In COMP-3U every nibble is a digit, so a trailing F or C nibble is rejected."""
        out = decode("""
        01  REC.
            05  N  PIC 9(6) COMP-3U.
        """, [bytes.fromhex("12345F"), bytes.fromhex("12345C")])
        assert rejects(out) == [reject(1, "N", Reason.PACKED_DIGIT),
                                reject(2, "N", Reason.PACKED_DIGIT)]

    def test_implied_decimals(self):
        """COMP-3U honours V like any other numeric usage."""
        out = decode("""
        01  REC.
            05  N  PIC 9(4)V99 COMP-3U.
        """, [bytes.fromhex("123456")])
        assert column(out, "n") == [Decimal("1234.56")]


class TestScale:
    def test_implied_decimal_point(self):
        """S9(5)V99 is decimal128(7, 2) and the value is exact."""
        out = decode(AMOUNT, [bytes.fromhex("0012345D")])
        assert out.batch.schema.field("amt").type == pa.decimal128(7, 2)
        assert column(out, "amt") == [Decimal("-123.45")]

    def test_p_scaling(self):
        """Trailing P positions multiply; leading P positions make small fractions."""
        out = decode("""
        01  REC.
            05  BIG    PIC S9(3)PP COMP-3.
            05  SMALL  PIC SVPP9(3) COMP-3.
        """, [bytes.fromhex("123D" "456C")])
        assert column(out, "big") == [-12300]
        assert column(out, "small") == [Decimal("0.00456")]

    def test_p_scaling_beyond_eighteen_digits(self):
        """PIC S9(17)PP (19 digits) is scaled exactly instead of overflowing int64."""
        out = decode("""
        01  REC.
            05  BIG  PIC S9(17)PP COMP-3.
        """, [bytes.fromhex("99999999999999999D")])
        assert column(out, "big") == [Decimal(-9999999999999999900)]


def _packed(value: int, digits: int) -> bytes:
    """Hand-pack ``value`` in the preferred signs (C/D) for PIC S9(digits) COMP-3."""
    nibbles = f"{abs(value):0{digits + (1 - digits % 2)}d}" + ("D" if value < 0 else "C")
    return bytes.fromhex(nibbles)


class TestWideNumbers:
    def test_s9_31(self):
        """PIC S9(31) COMP-3 decodes exactly as decimal128(31, 0)."""
        rec = record("""
        01  REC.
            05  N  PIC S9(31) COMP-3.
        """)
        rows = [bytes.fromhex("9" * 31 + "D"), bytes.fromhex("1234567890123456789012345678901C"),
                bytes.fromhex("0" * 30 + "1D"), bytes.fromhex("0" * 31 + "C")]
        out = decode(rec, rows)
        assert out.batch.schema.field("n").type == pa.decimal128(31, 0)
        assert column(out, "n") == [Decimal("-" + "9" * 31),
                                    Decimal(1234567890123456789012345678901),
                                    Decimal(-1), Decimal(0)]

    def test_s9_25_v9_6(self):
        """PIC S9(25)V9(6) COMP-3 keeps all 31 digits and the scale."""
        out = decode("""
        01  REC.
            05  N  PIC S9(25)V9(6) COMP-3.
        """, [bytes.fromhex("1234567890123456789012345678901D"),
              bytes.fromhex("0" * 30 + "1C")])
        assert column(out, "n") == [Decimal("-1234567890123456789012345.678901"),
                                    Decimal("0.000001")]

    @pytest.mark.parametrize("digits", range(17, 38))
    def test_extremes_of_every_width(self, digits):
        """The largest, smallest and a mid value of every width from 17 to 37 digits are exact."""
        values = [10**digits - 1, -(10**digits - 1), 10 ** (digits - 1), -1, 0,
                  int("1234567890" * 4) % 10**digits]
        out = decode(f"""
        01  REC.
            05  N  PIC S9({digits}) COMP-3.
        """, [_packed(v, digits) for v in values])
        assert rejects(out) == []
        assert [int(v) for v in column(out, "n")] == values

    def test_s9_18_keeps_its_sign(self):
        """PIC S9(18) COMP-3 (19 nibbles, int64) keeps negative values negative."""
        out = decode("""
        01  REC.
            05  N  PIC S9(18) COMP-3.
        """, [_packed(-(10**18 - 1), 18), _packed(-5, 18), _packed(10**18 - 1, 18)])
        assert out.batch.schema.field("n").type == pa.int64()
        assert column(out, "n") == [-(10**18 - 1), -5, 10**18 - 1]

    def test_wide_values_never_pass_through_float(self):
        """A 31-digit value differing in its last digit from a neighbour stays distinct."""
        out = decode("""
        01  REC.
            05  N  PIC S9(29)V99 COMP-3.
        """, [bytes.fromhex("9" * 30 + "8C"), bytes.fromhex("9" * 31 + "C")])
        a, b = column(out, "n")
        assert b - a == Decimal("0.01")
