"""Numeric-edited fields back into exact numbers: suppression, insertion, floating and sign
symbols."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mfpipe.codec import Reason
from mfpipe.layout import Category
from tests.codec.helpers import column, decode, record, reject, rejects


def _edited(picture: str, text: str, **options: object):
    """Decode one cp037 record holding ``text`` in a field of PIC ``picture``."""
    rec = record(f"""
    01  REC.
        05  E  PIC {picture}.
    """)
    assert rec.fields[0].category is Category.NUMERIC_EDITED
    assert rec.fields[0].size == len(text)
    return decode(rec, [text.encode("cp037")], **options)


class TestPictures:
    @pytest.mark.parametrize("picture, text, expected", [
        ("ZZZ,ZZ9.99-", "  1,234.56 ", Decimal("1234.56")),
        ("ZZZ,ZZ9.99-", "  1,234.56-", Decimal("-1234.56")),
        ("ZZZ,ZZ9.99-", "      0.05-", Decimal("-0.05")),
        ("ZZZ,ZZ9.99-", "999,999.99 ", Decimal("999999.99")),
        ("$$$,$$9.99CR", " $1,234.56  ", Decimal("1234.56")),
        ("$$$,$$9.99CR", " $1,234.56CR", Decimal("-1234.56")),
        ("$$$,$$9.99CR", "     $0.00  ", Decimal("0.00")),
        ("$$$,$$9.99CR", "$99,999.99  ", Decimal("99999.99")),
        ("+ZZ9", "+  5", 5),
        ("+ZZ9", "-  5", -5),
        ("+ZZ9", "-999", -999),
        ("+ZZ9", "+  0", 0),
        ("ZZ9.99DB", "123.45DB", Decimal("-123.45")),
        ("ZZ9.99DB", "  0.05  ", Decimal("0.05")),
        ("99/99/99", "12/31/99", 123199),
        ("99/99/99", "01/02/03", 10203),
        ("---,--9.99", " -1,234.56", Decimal("-1234.56")),
        ("---,--9.99", "   -100.00", Decimal("-100.00")),  # the sign floats into the ','
        ("+++,++9", " -1,000", -1000),
        ("+++,++9", "   -100", -100),
        ("***,**9.99", "****123.45", Decimal("123.45")),
        ("9(5).99", "00001.23", Decimal("1.23")),
        ("ZZ,ZZ9", "12,345", 12345),
    ])
    def test_vectors(self, picture, text, expected):
        """Each printed form decodes to its exact value."""
        out = _edited(picture, text)
        assert rejects(out) == []
        assert column(out, "e") == [expected]

    def test_explicit_point_is_a_byte(self):
        """In 9(5).99 the '.' is a real byte and the scale is 2."""
        rec = record("""
        01  REC.
            05  E  PIC 9(5).99.
            05  X  PIC X.
        """)
        assert rec.fields[0].size == 8 and rec.fields[0].scale == 2
        out = decode(rec, ["12345.67Z".encode("cp037")])
        assert column(out, "e") == [Decimal("12345.67")]
        assert column(out, "x") == ["Z"]


class TestOwnPoint:
    """De-editing reads a value at its own decimal point and sign, so digits never move."""

    @pytest.mark.parametrize("picture, text, expected", [
        ("9(8).9(2)", "789.09     ", Decimal("789.09")),  # left-justified, as non-COBOL tools write
        ("9(8).9(2)", "38945.09   ", Decimal("38945.09")),
        ("9(8).9(2)", "00000789.09", Decimal("789.09")),
        ("9(8).9(2)", "    789.09 ", Decimal("789.09")),
        ("9(8).9(2)", "789.1      ", Decimal("789.10")),  # fewer decimals than the picture
        ("ZZ9.99", " .50  ", Decimal("0.50")),
        ("ZZ9V99", "  150", Decimal("1.50")),  # an implied point prints nothing
        ("ZZZ.ZZ", "      ", Decimal("0.00")),  # all-Z zero prints as spaces, point included
        ("***.**", "***.**", Decimal("0.00")),
        ("$ZZ9.99", "$  1.50", Decimal("1.50")),
        ("ZZ9.99-", "1.50-  ", Decimal("-1.50")),
        ("99B99", "12 34", 1234),
        ("99099", "12045", 1245),  # the 0 is an insertion, not a digit
        ("ZZ,ZZ9", "1,234 ", 1234),  # left-justified, grouped as the picture groups
        ("ZZZ,ZZZ,ZZ9.99", "1,234,567.89  ", Decimal("1234567.89")),
        ("ZZZ,ZZZ,ZZ9.99", "1234567.89    ", Decimal("1234567.89")),  # no commas at all
    ])
    def test_vectors(self, picture, text, expected):
        """Each text decodes to the number its own digits and point say."""
        out = _edited(picture, text)
        assert rejects(out) == []
        assert column(out, "e") == [expected]

    @pytest.mark.parametrize("picture, text", [
        ("ZZ9.99", "-12.34"),  # no sign position in the picture
        ("ZZ9.99", "1 2.34"),  # a space between digits
        ("ZZ9.99", "12,.34"),  # no ',' in the picture, and not between digits
        ("ZZ,ZZ9.99", "  12,.34 "),  # a "," not between two digits
        ("ZZ9.99", "1.2.34"),  # a second point
        ("ZZ9.99", "1.234 "),  # more decimals than the picture holds
        ("ZZ9.99", "1234.5"),  # more integer digits than the picture holds
        ("ZZ9V99", " 1.50"),  # a point the picture does not print
        ("ZZ9V99", "150  "),  # no point to read by: the digits must end where the picture's do
        ("ZZZ.ZZ", "......"),  # zero prints as spaces here, never as points
        ("ZZZ.ZZ", "  ,   "),
        ("***.**", "**.***"),  # '*' zero keeps the point where the picture has it
        ("ZZ9V99-", "150  -"),
        ("ZZ,ZZ9", "1,2345"),  # a comma groups three digits in this picture
        ("ZZ,ZZ9", "1,23  "),
        ("ZZZ,ZZ9.99", "1,2345.00 "),
        ("ZZ9.99-", "+1.50  "),  # '-' pictures print a space for plus, never '+'
        ("ZZ9.99-", "-1.50- "),  # two signs
        ("ZZ9.99CR", "1.50C   "),  # half a CR
        ("ZZ9.99", "$1.50 "),  # no currency symbol in the picture
        ("99/99/99", "12-31-99"),  # an insertion position holding another symbol
        ("ZZ9.99", "  .   "),  # a point and no digit
        ("9(8).9(2)", "789        "),  # the picture prints a point: without one, a guess
        ("ZZ9.99", "  1234"),  # a lost point must not multiply the value by 100
    ])
    def test_rejects(self, picture, text):
        """Text the picture cannot have printed is a BAD_EDITED reject, never a moved value."""
        out = _edited(picture, text)
        assert rejects(out) == [reject(1, "E", Reason.BAD_EDITED)]


class TestMalformed:
    @pytest.mark.parametrize("picture, text", [
        ("ZZZ,ZZ9.99-", "  1,2A4.56 "), ("+ZZ9", "+ 5X"), ("ZZ9.99", "12#.00"),
        ("ZZ9.99", "1CR.00")])
    def test_character_the_picture_cannot_print(self, picture, text):
        """A letter or symbol the picture cannot produce is a BAD_EDITED reject."""
        out = _edited(picture, text)
        assert rejects(out) == [reject(1, "E", Reason.BAD_EDITED)]

    def test_all_spaces_null_by_default(self):
        """An all-spaces edited field with a 9 position is NULL by default."""
        assert column(_edited("ZZ9.99", "      "), "e") == [None]

    def test_all_spaces_rejected_on_request(self):
        """With spaces_numeric="reject" an all-spaces edited field is a SPACES reject."""
        out = _edited("ZZ9.99", "      ", spaces_numeric="reject")
        assert rejects(out) == [reject(1, "E", Reason.SPACES)]

    def test_all_z_picture_prints_zero_as_spaces(self):
        """ZZZZ prints zero as spaces, so spaces read back as 0."""
        assert column(_edited("ZZZZ", "    "), "e") == [0]
        assert column(_edited("ZZZZ", "  12"), "e") == [12]
