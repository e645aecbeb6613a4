"""PICTURE strings: every spelling of a picture means the same digits, scale, sign and size."""

from __future__ import annotations

import pytest

from mfpipe.layout.picture import parse_picture
from mfpipe.layout.types import Category


class TestParsePicture:
    @pytest.mark.parametrize("text", ["9(12)V99", "9(12)V9(2)", "999999999999V99",
                                      "9(6)9(6)V99"])
    def test_repeat_spellings_agree(self, text):
        """Repeat counts and repeated symbols give one and the same picture."""
        p = parse_picture(text)
        assert (p.category, p.digits, p.scale, p.signed, p.size) == (
            Category.NUMERIC, 14, 2, False, 14)

    @pytest.mark.parametrize("text, digits, scale", [
        ("9(3)PP", 3, -2), ("PP9(3)", 3, 5), ("VPP99", 2, 4), ("SV9(5)", 5, 5),
        ("S9(4)V9(2)", 6, 2), ("999V99", 5, 2)])
    def test_scaling(self, text, digits, scale):
        """V places the implied point; P scales up when trailing and down when leading."""
        p = parse_picture(text)
        assert (p.digits, p.scale) == (digits, scale)

    @pytest.mark.parametrize("text, size, digits, scale, signed", [
        ("ZZZ,ZZ9.99-", 11, 8, 2, True), ("$$$,$$9.99CR", 12, 7, 2, True),
        ("+ZZ9", 4, 3, 0, True), ("99/99/99", 8, 6, 0, False), ("ZZ9.99DB", 8, 5, 2, True),
        ("9(5).99", 8, 7, 2, False)])
    def test_edited(self, text, size, digits, scale, signed):
        """Edited pictures count every printed position; the first floating symbol is no digit."""
        p = parse_picture(text)
        assert p.category is Category.NUMERIC_EDITED
        assert (p.size, p.digits, p.scale, p.signed) == (size, digits, scale, signed)

    @pytest.mark.parametrize("text, category, size", [
        ("X(10)", Category.ALPHANUMERIC, 10), ("XXX", Category.ALPHANUMERIC, 3),
        ("A(4)", Category.ALPHANUMERIC, 4), ("N(5)", Category.NATIONAL, 10),
        ("XXBXX", Category.ALPHANUMERIC, 5)])
    def test_text(self, text, category, size):
        """Alphanumeric pictures take a byte a character; PIC N takes two."""
        p = parse_picture(text)
        assert (p.category, p.size) == (category, size)

    @pytest.mark.parametrize("text", ["9(", "9(3", "S9S9", "9V9V9", "9P9", "Q(3)", "", "VPP"])
    def test_invalid(self, text):
        """A malformed picture raises ValueError with a message (turned into a syntax error)."""
        with pytest.raises(ValueError):
            parse_picture(text)
