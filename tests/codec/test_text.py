"""Text fields: EBCDIC code pages, low-values and trim policies, PIC N as UTF-16BE."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mfpipe.codec import DecodeOptions, Reason
from mfpipe.errors import ConfigError
from tests.codec.helpers import column, decode, reject, rejects

TEXT = """
01  REC.
    05  T  PIC X(6).
"""
NATIONAL = """
01  REC.
    05  N  PIC N(4).
"""


class TestCodePages:
    @pytest.mark.parametrize("encoding, data, expected", [
        ("cp037", "C1C2C3F1F2F3", "ABC123"),
        ("cp037", "BABB5A4F4A81", "[]!|¢a"),
        ("cp500", "4A5A4FBBB081", "[]!|¢a"),
        ("cp1047", "ADBD5A4F5F81", "[]!|^a"),
        ("cp273", "4A5AE0A1C06A", "ÄÜÖßäö"),
        ("cp273", "D07CB5434040", "ü§@{"),
        ("cp1140", "9FF1F0F0C5E4", "€100EU"),
        ("cp037", "9FF1F0F0C5E4", "¤100EU"),
    ])
    def test_code_page_vectors(self, encoding, data, expected):
        """The same bytes mean different characters per code page (e.g. 0x9F is € in cp1140)."""
        out = decode(TEXT, [bytes.fromhex(data)], encoding=encoding)
        assert column(out, "t") == [expected]

    @pytest.mark.parametrize("encoding", ["cp037", "cp1047", "cp1141", "cp1148"])
    def test_nel_and_lf_as_in_ibm_cdra(self, encoding):
        """0x15 is NEL and 0x25 is LF in every EBCDIC page (IBM CDRA; not the USS swap)."""
        data = [bytes.fromhex("1525C1C2C3C4")]
        assert column(decode(TEXT, data, encoding=encoding), "t") == ["\x85\nABCD"]

    def test_ascii_file(self):
        """encoding="ascii" reads the bytes as they are."""
        out = decode(TEXT, [b"HELLO "], encoding="ascii")
        assert column(out, "t") == ["HELLO"]

    def test_unknown_code_page_is_a_config_error(self):
        """An unknown encoding fails when the options are built, naming the encoding."""
        with pytest.raises(ConfigError) as info:
            DecodeOptions(encoding="cp9999")
        assert "cp9999" in info.value.message

    def test_mixed_ascii_and_non_ascii_rows(self):
        """A chunk with one non-ASCII row still decodes every row correctly."""
        out = decode(TEXT, [bytes.fromhex("C1C2C3404040"), bytes.fromhex("9F4040404040")],
                     encoding="cp1140")
        assert column(out, "t") == ["ABC", "€"]
        assert out.batch.schema.field("t").type == pa.string()


class TestLowValues:
    ROWS = (bytes.fromhex("C100C2404040"), bytes.fromhex("C1C2C3C4C5C6"))

    def test_space_by_default(self):
        """Low-values become spaces by default (and are then trimmed at the end)."""
        out = decode(TEXT, [*self.ROWS, bytes(6)])
        assert column(out, "t") == ["A B", "ABCDEF", ""]

    def test_reject(self):
        """low_values="reject" rejects the record naming the field."""
        out = decode(TEXT, self.ROWS, low_values="reject")
        assert rejects(out) == [reject(1, "T", Reason.LOW_VALUES)]
        assert column(out, "t") == ["ABCDEF"]

    def test_keep(self):
        """low_values="keep" passes NUL characters through untouched."""
        out = decode(TEXT, self.ROWS, low_values="keep")
        assert column(out, "t") == ["A\x00B", "ABCDEF"]

    def test_space_in_non_ascii_rows(self):
        """The low-value policy also applies on the code-point path (non-ASCII rows)."""
        out = decode(TEXT, [bytes.fromhex("9F00C1404040")], encoding="cp1140")
        assert column(out, "t") == ["€ A"]


class TestTrim:
    ROWS = (bytes.fromhex("40C140C24040"), bytes.fromhex("404040404040"),
            bytes.fromhex("C1C2C3C4C5C6"), bytes.fromhex("40C1404040C2"))

    @pytest.mark.parametrize("trim, expected", [
        ("right", [" A B", "", "ABCDEF", " A   B"]),
        ("left", ["A B  ", "", "ABCDEF", "A   B"]),
        ("both", ["A B", "", "ABCDEF", "A   B"]),
        ("none", [" A B  ", "      ", "ABCDEF", " A   B"]),
    ])
    def test_trim_policies(self, trim, expected):
        """right/left/both/none trim spaces like str.rstrip/lstrip/strip (or not at all)."""
        assert column(decode(TEXT, self.ROWS, trim=trim), "t") == expected

    @pytest.mark.parametrize("trim, expected", [
        ("right", [" €", ""]), ("left", ["€    ", ""]), ("both", ["€", ""]),
        ("none", [" €    ", "      "])])
    def test_trim_on_the_code_point_path(self, trim, expected):
        """Trimming gives the same result when a row holds non-ASCII characters."""
        rows = [bytes.fromhex("409F40404040"), bytes.fromhex("404040404040")]
        assert column(decode(TEXT, rows, trim=trim, encoding="cp1140"), "t") == expected


class TestNational:
    def test_utf16_big_endian(self):
        """PIC N holds UTF-16BE characters, non-ASCII included; trailing spaces are trimmed."""
        out = decode(NATIONAL, ["Müll".encode("utf-16-be"), "東京  ".encode("utf-16-be"),
                                "ΑΘΗΝ".encode("utf-16-be")])
        assert column(out, "n") == ["Müll", "東京", "ΑΘΗΝ"]
        assert out.batch.schema.field("n").metadata == {b"mfpipe.max_length": b"4"}

    def test_ideographic_space_pads(self):
        """U+3000 (the DBCS space) pads like an ordinary space."""
        out = decode(NATIONAL, [bytes.fromhex("6771 4EAC 3000 3000")])
        assert column(out, "n") == ["東京"]

    @pytest.mark.parametrize("data", ["D800004100420043", "0041DC0000420043",
                                      "004100420043D83D", "DC00D83D00410042"])
    def test_unpaired_surrogate_is_rejected(self, data):
        """A lone high or low surrogate (or a reversed pair) is a BAD_CHARACTER reject."""
        out = decode(NATIONAL, [bytes.fromhex(data)])
        assert rejects(out) == [reject(1, "N", Reason.BAD_CHARACTER)]

    def test_surrogate_pair_is_one_character(self):
        """A high surrogate followed by a low one is a single character beyond the BMP."""
        out = decode(NATIONAL, ["😀AB".encode("utf-16-be"), "A😀 ".encode("utf-16-be")])
        assert rejects(out) == []
        assert column(out, "n") == ["😀AB", "A😀"]

    def test_national_trim_none(self):
        """trim="none" keeps the padding of a national field."""
        out = decode(NATIONAL, ["AB  ".encode("utf-16-be")], trim="none")
        assert column(out, "n") == ["AB  "]
