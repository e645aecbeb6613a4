"""Floating point (COMP-1, COMP-2): IBM hexadecimal vectors and the IEEE 754 alternative."""

from __future__ import annotations

import math
import struct

import pyarrow as pa
import pytest

from mfpipe.codec import Reason
from tests.codec.helpers import column, decode, reject, rejects

SINGLE = """
01  REC.
    05  F  COMP-1.
"""
DOUBLE = """
01  REC.
    05  F  COMP-2.
"""


class TestIbmHex:
    @pytest.mark.parametrize("word, expected", [
        ("41100000", 1.0), ("C1100000", -1.0), ("42640000", 100.0),
        ("00000000", 0.0), ("40800000", 0.5), ("C0800000", -0.5), ("41A00000", 10.0)])
    def test_comp_1_vectors(self, word, expected):
        """(-1)^s x 0.F x 16^(E-64): the MAINFRAME.md vectors, exactly."""
        out = decode(SINGLE, [bytes.fromhex(word)])
        assert column(out, "f") == [expected]
        assert out.batch.schema.field("f").type == pa.float64()

    def test_comp_1_non_terminating(self):
        """43142EFC is 322.93652..., exactly 0x142EFC / 2**24 * 16**3."""
        out = decode(SINGLE, [bytes.fromhex("43142EFC")])
        assert column(out, "f") == [0x142EFC / 2**24 * 16**3]
        assert column(out, "f")[0] == pytest.approx(322.93652, abs=1e-5)

    @pytest.mark.parametrize("word, expected", [
        ("4110000000000000", 1.0), ("C110000000000000", -1.0), ("4264000000000000", 100.0),
        ("0000000000000000", 0.0)])
    def test_comp_2_vectors(self, word, expected):
        """COMP-2 uses the same exponent with a 56-bit fraction."""
        out = decode(DOUBLE, [bytes.fromhex(word)])
        assert column(out, "f") == [expected]

    def test_comp_2_rounds_once(self):
        """43142EFCCAF709B7 is 322.936717 after one rounding of the 56-bit fraction."""
        out = decode(DOUBLE, [bytes.fromhex("43142EFCCAF709B7")])
        (value,) = column(out, "f")
        assert value == pytest.approx(322.936717, abs=1e-9)
        assert value == 0x142EFCCAF709B7 / 2**56 * 16**3

    def test_exponent_is_not_ignored(self):
        """The same fraction under different exponents scales by 16 (Cobrix's COMP-1 bug)."""
        out = decode(SINGLE, [bytes.fromhex("41100000"), bytes.fromhex("42100000"),
                              bytes.fromhex("40100000")])
        assert column(out, "f") == [1.0, 16.0, 1.0 / 16]

    def test_extremes(self):
        """The largest and smallest normalized values fit float64; there is no NaN in HFP."""
        out = decode(SINGLE, [bytes.fromhex("7FFFFFFF"), bytes.fromhex("00100000"),
                              bytes.fromhex("FFFFFFFF")])
        big, small, negative = column(out, "f")
        assert big == (1 - 2.0**-24) * 16.0**63
        assert small == 16.0**-65
        assert negative == -big
        assert rejects(out) == []


class TestIeee:
    def test_ieee_big_endian(self):
        """float_format="ieee" reads COMP-1/COMP-2 as big-endian IEEE 754."""
        out = decode("""
        01  REC.
            05  S  COMP-1.
            05  D  COMP-2.
        """, [struct.pack(">f", 1.5) + struct.pack(">d", -2.25),
              struct.pack(">f", -0.0) + struct.pack(">d", 1e300)], float_format="ieee")
        assert column(out, "s") == [1.5, -0.0]
        assert column(out, "d") == [-2.25, 1e300]

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_nan_and_infinity_are_rejected(self, value):
        """IEEE NaN and infinities have no place in a database column: rejected."""
        out = decode(SINGLE, [struct.pack(">f", value)], float_format="ieee")
        assert rejects(out) == [reject(1, "F", Reason.NOT_A_NUMBER)]
        out = decode(DOUBLE, [struct.pack(">d", value)], float_format="ieee")
        assert rejects(out) == [reject(1, "F", Reason.NOT_A_NUMBER)]

    def test_same_bytes_differ_by_format(self):
        """41100000 is 1.0 in IBM hex but about 9.0 in IEEE: the format is a per-file choice."""
        data = [bytes.fromhex("41100000")]
        assert column(decode(SINGLE, data), "f") == [1.0]
        assert column(decode(SINGLE, data, float_format="ieee"), "f") == [
            struct.unpack(">f", data[0])[0]]
