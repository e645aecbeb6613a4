"""Binary integers (COMP, COMP-4, BINARY, COMP-5): big-endian two's complement, range policy."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from mfpipe.codec import Reason
from tests.codec.helpers import column, decode, record, reject, rejects

SIGNED = """
01  REC.
    05  H  PIC S9(4) COMP.
    05  F  PIC S9(9) COMP-4.
    05  D  PIC S9(18) BINARY.
"""
UNSIGNED = """
01  REC.
    05  H  PIC 9(4) COMP.
    05  F  PIC 9(9) COMP.
    05  D  PIC 9(18) COMP.
"""


class TestSizes:
    @pytest.mark.parametrize("picture, size", [
        ("S9(1)", 2), ("S9(4)", 2), ("S9(5)", 4), ("S9(9)", 4), ("S9(10)", 8), ("S9(18)", 8)])
    def test_size_by_digits(self, picture, size):
        """1-4 digits take 2 bytes, 5-9 take 4 and 10-18 take 8."""
        rec = record(f"""
        01  REC.
            05  N  PIC {picture} COMP.
        """)
        assert rec.fields[0].size == size

    def test_arrow_types_follow_the_storage(self):
        """Signed halfword/fullword/doubleword are int16/int32/int64; unsigned widen."""
        signed = decode(SIGNED, [bytes(14)]).batch.schema
        unsigned = decode(UNSIGNED, [bytes(14)]).batch.schema
        assert [f.type for f in signed] == [pa.int16(), pa.int32(), pa.int64()]
        assert [f.type for f in unsigned] == [pa.int32(), pa.int64(), pa.decimal128(20, 0)]


class TestTwosComplement:
    def test_signed_vectors(self):
        """Big-endian two's complement: 7FFF.., 8000.., FFFF.. and powers of ten."""
        out = decode(SIGNED, [
            bytes.fromhex("7FFF" "7FFFFFFF" "7FFFFFFFFFFFFFFF"),
            bytes.fromhex("8000" "80000000" "8000000000000000"),
            bytes.fromhex("FFFF" "FFFFFFFF" "FFFFFFFFFFFFFFFF"),
            bytes.fromhex("2710" "3B9ACA00" "0DE0B6B3A7640000"),
            bytes.fromhex("FFFE" "FFFFFF85" "FFFFFFFFFFFFFF00")])
        assert column(out, "h") == [32767, -32768, -1, 10000, -2]
        assert column(out, "f") == [2147483647, -2147483648, -1, 1000000000, -123]
        assert column(out, "d") == [2**63 - 1, -(2**63), -1, 10**18, -256]

    def test_unsigned_vectors(self):
        """Without S the same bytes are unsigned, up to 2**64 - 1 for a doubleword."""
        out = decode(UNSIGNED, [bytes.fromhex("FFFF" "FFFFFFFF" "FFFFFFFFFFFFFFFF"),
                                bytes.fromhex("0001" "00000001" "0000000000000001")])
        assert column(out, "h") == [65535, 1]
        assert column(out, "f") == [4294967295, 1]
        assert column(out, "d") == [Decimal(2**64 - 1), Decimal(1)]

    def test_implied_decimals_scale_the_integer(self):
        """S9(7)V99 COMP holds hundredths: 0x00003039 is 123.45 and -1 is -0.01."""
        out = decode("""
        01  REC.
            05  A  PIC S9(7)V99 COMP.
            05  B  PIC 9(2)V9 COMP.
        """, [bytes.fromhex("00003039" "03E7"), bytes.fromhex("FFFFFFFF" "0001")])
        assert out.batch.schema.field("a").type == pa.decimal128(10, 2)
        assert column(out, "a") == [Decimal("123.45"), Decimal("-0.01")]
        assert column(out, "b") == [Decimal("99.9"), Decimal("0.1")]


class TestScaling:
    @pytest.mark.parametrize("picture, stored, expected, arrow", [
        ("S9(3)PPP", 305, 305000, pa.int32()),
        ("S9(4)PPP", 9999, 9999000, pa.int32()),
        ("S9(4)PPP", -32768, -32768000, pa.int32()),
        ("S9(7)PPP", 9999999, 9999999000, pa.int64()),
        ("S9(9)PPP", -(2**31), -(2**31) * 1000, pa.int64()),
        ("9(18)PP", 2**64 - 1, (2**64 - 1) * 100, pa.decimal128(22, 0)),
        ("SVPP99", 1, Decimal("0.0001"), pa.decimal128(5, 4)),
        ("SVPP99", -32768, Decimal("-3.2768"), pa.decimal128(5, 4)),
        ("SPP99", 1, Decimal("0.0001"), pa.decimal128(5, 4)),
        ("VP(6)9", 65535, Decimal("0.0065535"), pa.decimal128(7, 7)),
    ])
    def test_p_positions_scale_without_wrapping(self, picture, stored, expected, arrow):
        """P positions on either side scale the full stored value; the type holds the result."""
        rec = record(f"""
        01  REC.
            05  N  PIC {picture} COMP.
        """)
        field = rec.fields[0]
        raw = stored.to_bytes(field.size, "big", signed=field.signed)
        out = decode(rec, [raw])
        assert rejects(out) == []
        assert out.batch.schema.field("n").type == arrow
        assert column(out, "n") == [expected]


class TestRangePolicy:
    def test_full_range_by_default(self):
        """32767 in S9(4) COMP (TRUNC(BIN) data) decodes by default."""
        out = decode(SIGNED, [bytes.fromhex("7FFF" "00000000" "0000000000000000")])
        assert column(out, "h") == [32767]

    def test_pic_range_rejects_beyond_the_digits(self):
        """binary_range="pic" rejects 32767 in S9(4) COMP and keeps 9999 and -9999."""
        out = decode(SIGNED, [bytes.fromhex("7FFF" "00000000" "0000000000000000"),
                              bytes.fromhex("270F" "3B9AC9FF" "0DE0B6B3A763FFFF"),
                              bytes.fromhex("D8F1" "C4653601" "F21F494C589C0001"),
                              bytes.fromhex("D8F0" "00000000" "0000000000000000")],
                     binary_range="pic")
        assert column(out, "h") == [9999, -9999]
        assert column(out, "d") == [10**18 - 1, -(10**18 - 1)]
        assert rejects(out) == [reject(1, "H", Reason.TOO_MANY_DIGITS),
                                reject(4, "H", Reason.TOO_MANY_DIGITS)]

    def test_pic_range_catches_the_most_negative_doubleword(self):
        """-2**63 in S9(18) COMP is beyond 18 digits (abs() of it would overflow)."""
        out = decode(SIGNED, [bytes.fromhex("0000" "00000000" "8000000000000000")],
                     binary_range="pic")
        assert rejects(out) == [reject(1, "D", Reason.TOO_MANY_DIGITS)]

    def test_pic_range_unsigned(self):
        """binary_range="pic" rejects 10000 in 9(4) COMP."""
        out = decode(UNSIGNED, [bytes.fromhex("2710" "00000000" "0000000000000000")],
                     binary_range="pic")
        assert rejects(out) == [reject(1, "H", Reason.TOO_MANY_DIGITS)]

    def test_comp_5_is_always_full_range(self):
        """COMP-5 is native binary: binary_range="pic" does not apply to it."""
        out = decode("""
        01  REC.
            05  N  PIC S9(4) COMP-5.
        """, [bytes.fromhex("7FFF")], binary_range="pic")
        assert column(out, "n") == [32767]
