"""The fast paths agree with the general paths on any bytes.

Packed fields of up to 8 bytes and zoned fields of up to 16 bytes (trailing or no sign) take a
word-arithmetic fast path; every other width goes the general way. ASCII text takes a path of
pair-table translation and Arrow trimming; the general path encodes code points. Here both
paths decode the same columns of mostly-valid, corrupted and random bytes: the reject reasons
must be identical on every record, and the values identical on every valid one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.codec import DecodedColumn, DecodeOptions, Reason, charset
from mfpipe.codec.charsets import NOT_ASCII
from mfpipe.codec.packed import (decode_packed, decode_packed_bytes, decode_packed_unsigned,
                                 decode_packed_unsigned_bytes)
from mfpipe.codec.text import decode_text, strings_from_codepoints
from mfpipe.codec.zoned import decode_zoned, decode_zoned_bytes
from mfpipe.layout import Field
from tests.codec.helpers import record

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _field(clause: str) -> Field:
    return record(f"""
    01  REC.
        05  V  {clause}.
        05  AFTER  PIC X.
    """).fields[0]


def _reasons(column: DecodedColumn) -> np.ndarray:
    n = len(column.values)
    return np.zeros(n, np.uint8) if column.reasons is None else column.reasons


def _assert_same(fast: DecodedColumn, general: DecodedColumn) -> None:
    """Same reasons everywhere, same type, same values (and NULLs) on the valid records."""
    reasons = _reasons(fast)
    assert reasons.tolist() == _reasons(general).tolist()
    assert fast.values.type == general.values.type
    valid = np.flatnonzero(reasons == 0).tolist()
    assert [fast.values[i].as_py() for i in valid] == [general.values[i].as_py() for i in valid]


@st.composite
def _columns(draw: st.DrawFn, width: int, good_bytes: list[int], last_bytes: list[int]
             ) -> np.ndarray:
    """Up to 200 rows of ``width`` bytes (plus one byte after the field): valid-looking, all
    spaces, corrupted in one byte, or random. NumPy makes the rows from a drawn seed, so each
    example covers many records cheaply."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 200))
    rows = rng.integers(0, 256, (n, width + 1), dtype=np.uint8)  # random
    kind = rng.integers(0, 4, n)
    good = kind <= 1
    rows[good, :width - 1] = rng.choice(np.array(good_bytes, np.uint8), (good.sum(), width - 1))
    rows[good, width - 1] = rng.choice(np.array(last_bytes, np.uint8), good.sum())
    corrupt = np.flatnonzero(kind == 1)
    rows[corrupt, rng.integers(0, width, len(corrupt))] = rng.integers(0, 256, len(corrupt))
    rows[kind == 2, :width] = rng.choice(np.array([0x40, 0x20], np.uint8))
    return rows[:, :width]  # a strided view, as the plan passes it


_PACKED_DIGITS = [hi << 4 | lo for hi in range(10) for lo in range(10)]


class TestPacked:
    @pytest.mark.parametrize("picture", ["S9(1)", "9(2)", "S9(3)V9", "9(4)", "S9(5)", "S9(6)",
                                         "S9(7)V99", "9(10)", "S9(11)V99", "S9(13)", "9(14)",
                                         "S9(15)", "S9(16)", "9(17)"])
    @pytest.mark.parametrize("strict", [False, True])
    @SETTINGS
    @given(data=st.data())
    def test_comp3(self, picture, strict, data):
        """COMP-3 up to 8 bytes (fast) matches the table path, for every sign nibble."""
        f = _field(f"PIC {picture} COMP-3")
        signs = [hi << 4 | sign for hi in range(10) for sign in (0x3, 0xA, 0xB, 0xC, 0xD, 0xE, 0xF)]
        raw = data.draw(_columns(f.size, _PACKED_DIGITS, signs))
        options = DecodeOptions(strict_signs=strict)
        _assert_same(decode_packed(raw, f, options), decode_packed_bytes(raw, f, options))

    @pytest.mark.parametrize("picture", ["9(1)", "9(2)", "9(5)", "9(8)", "9(11)", "9(16)",
                                         "9(17)"])
    @SETTINGS
    @given(data=st.data())
    def test_comp3u(self, picture, data):
        """COMP-3U up to 8 bytes (fast) matches the table path."""
        f = _field(f"PIC {picture} COMP-3U")
        raw = data.draw(_columns(f.size, _PACKED_DIGITS, _PACKED_DIGITS))
        options = DecodeOptions()
        _assert_same(decode_packed_unsigned(raw, f, options),
                     decode_packed_unsigned_bytes(raw, f, options))


_EBCDIC_SIGNS = [zone << 4 | d for zone in (0x4, 0xA, 0xB, 0xC, 0xD, 0xE, 0xF) for d in range(11)]
_ASCII_SIGNS = list(b"0123456789{ABCDEFGHI}JKLMNOPQRpqrstuvwxy:/ ")


class TestZoned:
    @pytest.mark.parametrize("picture", ["S9", "9(2)", "S9(3)V99", "9(7)", "S9(8)", "9(8)",
                                         "S9(9)", "9(10)", "S9(11)V99", "S9(15)", "9(16)",
                                         "S9(17)", "9(18)"])
    @pytest.mark.parametrize("encoding", ["cp037", "ascii"])
    @SETTINGS
    @given(data=st.data(), variant=st.sampled_from(["default", "strict", "reject_spaces",
                                                    "blank_when_zero"]))
    def test_trailing_sign(self, picture, encoding, variant, data):
        """Zoned up to 16 bytes (fast) matches the table path, for every option that matters."""
        f = _field(f"PIC {picture}" + (" BLANK WHEN ZERO" if variant == "blank_when_zero" else ""))
        ebcdic = encoding != "ascii"
        digits = list(range(0xF0, 0xFA)) if ebcdic else list(range(0x30, 0x3A))
        raw = data.draw(_columns(f.size, digits, _EBCDIC_SIGNS if ebcdic else _ASCII_SIGNS))
        options = DecodeOptions(encoding=encoding, strict_signs=variant == "strict",
                                spaces_numeric="reject" if variant == "reject_spaces" else "null")
        _assert_same(decode_zoned(raw, f, options), decode_zoned_bytes(raw, f, options))


class TestText:
    @pytest.mark.parametrize("picture", ["X", "XX", "X(3)", "X(4)", "X(7)", "X(30)"])
    @pytest.mark.parametrize("encoding", ["cp037", "cp1047", "ascii"])
    @SETTINGS
    @given(data=st.data(), trim=st.sampled_from(["right", "left", "both", "none"]),
           low_values=st.sampled_from(["space", "reject", "keep"]))
    def test_ascii_path(self, picture, encoding, trim, low_values, data):
        """Text of ASCII characters (with spaces and low-values), odd and even widths, decodes
        like the general code-point path, for every trim and low-values policy."""
        f = _field(f"PIC {picture}")
        cs = charset(encoding)
        ascii_bytes = np.flatnonzero(cs.ascii != NOT_ASCII).tolist()
        spaces = [cs.space] * 20 + [0] * 3
        raw = data.draw(_columns(f.size, ascii_bytes + spaces, ascii_bytes + spaces))
        if not data.draw(st.booleans()):  # else one non-ASCII byte sends it all the general way
            raw = np.where(cs.ascii[raw] == NOT_ASCII, cs.space, raw)
        options = DecodeOptions(encoding=encoding, trim=trim, low_values=low_values)
        fast = decode_text(raw, f, options)
        points = cs.codepoints[raw]
        if low_values == "space":
            points[raw == 0] = ord(" ")
        assert fast.values.type == pa.string()
        assert fast.values.to_pylist() == strings_from_codepoints(points, trim).to_pylist()
        expected_reasons = (raw == 0).any(axis=1) * Reason.LOW_VALUES if low_values == "reject" \
            else np.zeros(len(raw), np.uint8)
        assert _reasons(fast).tolist() == expected_reasons.tolist()
