"""Zoned decimal (DISPLAY numerics): EBCDIC zones, sign positions, ASCII overpunch, spaces, P."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from mfpipe.codec import Reason
from tests.codec.helpers import column, decode, reject, rejects

SIGNED = """
01  REC.
    05  AMT  PIC S9(3)V99.
"""


class TestEbcdicZones:
    def test_digits_f0_to_f9(self):
        """EBCDIC digits are F0-F9; an unsigned field reads them as they are."""
        out = decode("""
        01  REC.
            05  N  PIC 9(10).
        """, [bytes.fromhex("F0F1F2F3F4F5F6F7F8F9")])
        assert column(out, "n") == [123456789]

    @pytest.mark.parametrize("zone, expected", [
        ("C", Decimal("123.45")), ("F", Decimal("123.45")), ("A", Decimal("123.45")),
        ("E", Decimal("123.45")), ("D", Decimal("-123.45")), ("B", Decimal("-123.45"))])
    def test_sign_zone_of_the_last_byte(self, zone, expected):
        """C, F, A and E zones are plus; D and B are minus."""
        out = decode(SIGNED, [bytes.fromhex("F1F2F3F4" + zone + "5")])
        assert column(out, "amt") == [expected]
        assert out.batch.schema.field("amt").type == pa.decimal128(5, 2)

    @pytest.mark.parametrize("zone", "AEB")
    def test_strict_signs_refuses_loose_zones(self, zone):
        """strict_signs rejects A, E and B sign zones."""
        out = decode(SIGNED, [bytes.fromhex("F1F2F3F4" + zone + "5")], strict_signs=True)
        assert rejects(out) == [reject(1, "AMT", Reason.STRICT_SIGN)]

    @pytest.mark.parametrize("data", ["F1C2F3F4F5", "F14BF3F4C5", "F1F240F4C5",
                                      "81F2F3F4C5"])
    def test_non_digit_byte_is_rejected(self, data):
        """A byte other than F0-F9 before the sign byte is a ZONED_DIGIT reject."""
        out = decode(SIGNED, [bytes.fromhex(data)])
        assert rejects(out) == [reject(1, "AMT", Reason.ZONED_DIGIT)]

    @pytest.mark.parametrize("sign_byte", ["95", "45", "05", "4B"])
    def test_invalid_sign_zone_is_rejected(self, sign_byte):
        """A sign byte whose zone is not A-F is a ZONED_SIGN reject."""
        out = decode(SIGNED, [bytes.fromhex("F1F2F3F4" + sign_byte)])
        assert rejects(out) == [reject(1, "AMT", Reason.ZONED_SIGN)]

    def test_minus_zone_in_unsigned_field(self):
        """A D zone in a PIC 9 field is a negative value where none is allowed: rejected."""
        out = decode("""
        01  REC.
            05  N  PIC 9(3).
        """, [bytes.fromhex("F1F2D3"), bytes.fromhex("F1F2C3")])
        assert rejects(out) == [reject(1, "N", Reason.NEGATIVE_UNSIGNED)]
        assert column(out, "n") == [123]


class TestSignPositions:
    def test_sign_leading(self):
        """SIGN LEADING puts the sign in the zone of the first byte."""
        out = decode("""
        01  REC.
            05  N  PIC S9(3) SIGN LEADING.
        """, [bytes.fromhex("D1F2F3"), bytes.fromhex("C1F2F3"), bytes.fromhex("F1F2D3")])
        assert column(out, "n") == [-123, 123]
        assert rejects(out) == [reject(3, "N", Reason.ZONED_DIGIT)]

    def test_sign_leading_separate(self):
        """SIGN LEADING SEPARATE adds a first byte '+' (0x4E) or '-' (0x60)."""
        out = decode("""
        01  REC.
            05  N  PIC S9(3)V9 SIGN IS LEADING SEPARATE CHARACTER.
        """, [bytes.fromhex("60F1F2F3F4"), bytes.fromhex("4EF1F2F3F4"),
              bytes.fromhex("F0F1F2F3F4")])
        assert column(out, "n") == [Decimal("-123.4"), Decimal("123.4")]
        assert rejects(out) == [reject(3, "N", Reason.ZONED_SIGN)]

    def test_sign_trailing_separate(self):
        """SIGN TRAILING SEPARATE adds a last byte '+' or '-'; an overpunch there is invalid."""
        out = decode("""
        01  REC.
            05  N  PIC S9(3) SIGN TRAILING SEPARATE.
        """, [bytes.fromhex("F1F2F360"), bytes.fromhex("F1F2F34E"),
              bytes.fromhex("F1F2C34E"), bytes.fromhex("F1F2F3C3")])
        assert column(out, "n") == [-123, 123]
        assert rejects(out) == [reject(3, "N", Reason.ZONED_DIGIT),
                                reject(4, "N", Reason.ZONED_SIGN)]

    def test_separate_sign_takes_a_byte(self):
        """A separate sign makes the field one byte longer than its digits."""
        out = decode("""
        01  REC.
            05  A  PIC S9(3) SIGN TRAILING SEPARATE.
            05  B  PIC X.
        """, [bytes.fromhex("F1F2F360C2")])
        assert column(out, "a") == [-123]
        assert column(out, "b") == ["B"]


class TestAsciiOverpunch:
    @pytest.mark.parametrize("last, expected", [
        ("{", 1230), ("A", 1231), ("B", 1232), ("C", 1233), ("D", 1234), ("E", 1235),
        ("F", 1236), ("G", 1237), ("H", 1238), ("I", 1239),
        ("}", -1230), ("J", -1231), ("K", -1232), ("L", -1233), ("M", -1234), ("N", -1235),
        ("O", -1236), ("P", -1237), ("Q", -1238), ("R", -1239), ("4", 1234)])
    def test_overpunch_letters(self, last, expected):
        """`{ A-I` are +0..+9 and `} J-R` are -0..-9 in text-transferred ASCII files."""
        out = decode("""
        01  REC.
            05  N  PIC S9(3)V9.
        """, [b"123" + last.encode("ascii")], encoding="ascii")
        assert column(out, "n") == [Decimal(expected) / 10]

    def test_ascii_separate_sign(self):
        """In ASCII a separate sign is the byte '+' or '-'."""
        out = decode("""
        01  REC.
            05  N  PIC S9(3) SIGN LEADING SEPARATE.
        """, [b"-123", b"+123"], encoding="ascii")
        assert column(out, "n") == [-123, 123]

    def test_ascii_non_digit(self):
        """An ASCII space or letter among the digits is rejected."""
        out = decode("""
        01  REC.
            05  N  PIC S9(3)V9.
        """, [b"1 3{", b"1X3A"], encoding="ascii")
        assert rejects(out) == [reject(1, "N", Reason.ZONED_DIGIT),
                                reject(2, "N", Reason.ZONED_DIGIT)]


class TestSpaces:
    def test_all_spaces_is_null_by_default(self):
        """An all-spaces numeric field is NULL, not a reject."""
        out = decode(SIGNED, [bytes.fromhex("4040404040"), bytes.fromhex("F1F2F3F4C5")])
        assert column(out, "amt") == [None, Decimal("123.45")]
        assert rejects(out) == []

    def test_all_spaces_rejected_on_request(self):
        """spaces_numeric="reject" turns an all-spaces field into a SPACES reject."""
        out = decode(SIGNED, [bytes.fromhex("4040404040")], spaces_numeric="reject")
        assert rejects(out) == [reject(1, "AMT", Reason.SPACES)]

    def test_partly_spaces_is_invalid(self):
        """Leading spaces in a zoned field are not digits: the record is rejected."""
        out = decode(SIGNED, [bytes.fromhex("4040F3F4C5")])
        assert rejects(out) == [reject(1, "AMT", Reason.ZONED_DIGIT)]

    def test_blank_when_zero(self):
        """BLANK WHEN ZERO reads spaces as zero, even when spaces would be rejected."""
        out = decode("""
        01  REC.
            05  N  PIC 9(3) BLANK WHEN ZERO.
        """, [bytes.fromhex("404040")], spaces_numeric="reject")
        assert column(out, "n") == [0]

    def test_ascii_spaces(self):
        """In an ASCII file the space is 0x20."""
        out = decode("""
        01  REC.
            05  N  PIC S9(3).
        """, [b"   "], encoding="ascii")
        assert column(out, "n") == [None]


class TestScaling:
    def test_p_positions(self):
        """9(3)PP multiplies by 100; PP9(3) and VPP99 are small fractions."""
        out = decode("""
        01  REC.
            05  A  PIC 9(3)PP.
            05  B  PIC PP9(3).
            05  C  PIC SVPP99.
            05  D  PIC S9(3)V99.
        """, [bytes.fromhex("F1F2F3" "F4F5F6" "F7D8" "F1F2F3F4D5")])
        assert column(out, "a") == [12300]
        assert column(out, "b") == [Decimal("0.00456")]
        assert column(out, "c") == [Decimal("-0.0078")]
        assert column(out, "d") == [Decimal("-123.45")]

    def test_p_scaling_past_int64(self):
        """9(17)PPP (20 digits) scales exactly instead of overflowing int64."""
        out = decode("""
        01  REC.
            05  A  PIC 9(17)PPP.
        """, [bytes.fromhex("F9" * 17)])
        assert column(out, "a") == [Decimal(99999999999999999000)]

    @pytest.mark.parametrize("digits", [18, 19, 25, 31, 36, 37])
    def test_wide_zoned(self, digits):
        """Zoned fields wider than 18 digits decode exactly as decimal128."""
        value = int("9876543210" * 4) % 10**digits
        text = f"{value:0{digits}d}"
        data = bytes(0xF0 + int(c) for c in text[:-1]) + bytes([0xD0 + int(text[-1])])
        out = decode(f"""
        01  REC.
            05  N  PIC S9({digits - 2})V99.
        """, [data])
        assert column(out, "n") == [Decimal(f"-{text[:-2]}.{text[-2:]}")]
