"""Copybook syntax met in real files, and errors that say where and what."""

from __future__ import annotations

import pickle

import pytest

from mfpipe.errors import CopybookSyntaxError, LayoutError, UnsupportedLayoutError
from mfpipe.layout import Category, SignPosition, Usage, load_layout, parse_layout
from tests.support import copybook


def fields(text: str, record: str | None = None) -> dict:
    return {f.column: f for f in parse_layout(text).record(record).fields}


class TestSourceFormat:
    def test_sequence_and_identification_areas_are_ignored(self):
        """Columns 1-6 and 73-80 never reach the parser, whatever they hold."""
        text = ("000100 01  REC.".ljust(72) + "IDENT001\n"
                + "000200     05  AMOUNT    PIC S9(5)V99 COMP-3.".ljust(72) + "IDENT.02\n")
        assert fields(text)["amount"].size == 4

    def test_comment_and_page_lines(self):
        """'*' and '/' in column 7 comment a line out, even when it looks like code."""
        text = ("       01  REC.\n"
                "      *    05  GONE  PIC X(10).\n"
                "000300/    05  GONE2 PIC X(10).\n"
                "           05  KEPT  PIC X(3).\n")
        assert list(fields(text)) == ["kept"]

    def test_continued_literal(self):
        """A '-' in column 7 continues a literal that ran to column 72."""
        first = "       01  REC.\n           05  CODE PIC X(3).\n"
        literal = ("               88  LONG-VALUE VALUE "
                   "'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH")
        text = first + literal.ljust(72) + "\n      -    'IJKL'.\n"
        condition = fields(text)["code"].conditions[0]
        # the literal opens in column 37, so columns 38-72 (35 characters) hold its first part
        assert condition.values == ("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678" + "IJKL",)

    def test_tabs_and_lower_case(self):
        """Tabs expand to 8-column stops and lower-case words parse like upper case."""
        text = ("       01  rec.\n\t   05  cust-email\tpic x(40).\n"
                "           05  n pic s9(4) comp.\n")
        parsed = fields(text)
        assert parsed["cust_email"].size == 40 and parsed["n"].usage is Usage.COMP

    def test_code_from_column_7_with_comments(self):
        """Code written one column left of the fixed format, with '*' comments in column 7."""
        text = ("      * a comment\n      01 REC.\n      * another\n         05 A PIC X(2).\n"
                "      / page\n         05 B PIC 9.\n")
        assert [f.column for f in parse_layout(text).records[0].fields] == ["a", "b"]

    def test_free_format(self):
        """Code starting in column 1 is read as free format, with '*>' comments."""
        text = "01 REC. *> a record\n  05 A PIC X(2).\n  05 B PIC 9(3) COMP-3.\n"
        assert [f.offset for f in fields(text).values()] == [0, 2]


class TestClauses:
    def test_usage_spellings(self):
        """Every spelling of every USAGE maps to one usage, with its size."""
        text = copybook("""
        01  REC.
            05  A  PIC S9(5) USAGE IS COMPUTATIONAL-3.
            05  B  PIC S9(5) PACKED-DECIMAL.
            05  C  PIC S9(4) BINARY.
            05  D  PIC S9(9) COMP-4.
            05  E  PIC S9(18) COMP-5.
            05  F  COMP-1.
            05  G  USAGE COMP-2.
            05  H  PICTURE IS X(4) DISPLAY.
            05  I  PIC N(3).
            05  J  PIC 9(5) COMP-3U.
        """)
        got = {c: (f.usage, f.size) for c, f in fields(text).items()}
        assert got == {"a": (Usage.COMP_3, 3), "b": (Usage.COMP_3, 3), "c": (Usage.COMP, 2),
                       "d": (Usage.COMP, 4), "e": (Usage.COMP_5, 8), "f": (Usage.COMP_1, 4),
                       "g": (Usage.COMP_2, 8), "h": (Usage.DISPLAY, 4), "i": (Usage.NATIONAL, 6),
                       "j": (Usage.COMP_3U, 3)}

    def test_group_usage_is_inherited(self):
        """A USAGE on a group applies to every item under it."""
        text = copybook("""
        01  REC.
            05  AMOUNTS COMP-3.
                10  A  PIC S9(7)V99.
                10  B  PIC S9(3).
        """)
        assert [(f.usage, f.size) for f in fields(text).values()] == [(Usage.COMP_3, 5),
                                                                       (Usage.COMP_3, 2)]

    def test_sign_clauses(self):
        """SIGN LEADING/TRAILING [SEPARATE] sets the sign position; SEPARATE adds a byte."""
        text = copybook("""
        01  REC.
            05  A  PIC S9(3) SIGN IS LEADING.
            05  B  PIC S9(3) SIGN TRAILING SEPARATE CHARACTER.
            05  C  PIC S9(3) LEADING SEPARATE.
            05  D  PIC S9(3).
            05  E  PIC 9(3).
        """)
        got = {c: (f.sign_position, f.size) for c, f in fields(text).items()}
        assert got == {"a": (SignPosition.LEADING, 3), "b": (SignPosition.TRAILING_SEPARATE, 4),
                       "c": (SignPosition.LEADING_SEPARATE, 4), "d": (SignPosition.TRAILING, 3),
                       "e": (SignPosition.NONE, 3)}

    def test_value_sync_just_blank_when_zero(self):
        """VALUE, JUST RIGHT, BLANK WHEN ZERO parse; SYNC aligns a binary field to its size."""
        text = copybook("""
        01  REC.
            05  A  PIC X(3) VALUE 'ABC' JUST RIGHT.
            05  B  PIC S9(9) COMP SYNC.
            05  C  PIC ZZ9.99 BLANK WHEN ZERO.
            05  D  PIC 9(3) VALUE ZEROS.
        """)
        parsed = fields(text)
        assert parsed["a"].justified and parsed["c"].blank_when_zero
        assert parsed["b"].offset == 4  # 1 slack byte after A (3 bytes)
        assert parsed["c"].offset == 8

    def test_conditions(self):
        """88 levels keep their values and THRU ranges on the field before them."""
        text = copybook("""
        01  REC.
            05  STATUS-CODE  PIC X.
                88  ACTIVE   VALUE 'A'.
                88  CLOSED   VALUES ARE 'C', 'X' THRU 'Z'.
        """)
        active, closed = fields(text)["status_code"].conditions
        assert active.values == ("A",) and closed.values == ("C",)
        assert closed.ranges == (("X", "Z"),)

    def test_renames_and_77(self):
        """66 RENAMES is recorded on its record; a 77 item is a record of its own."""
        text = copybook("""
        01  REC.
            05  A  PIC X(2).
            05  B  PIC X(2).
        66  AB RENAMES A THRU B.
        77  COUNTER PIC S9(4) COMP.
        """)
        layout = parse_layout(text)
        assert layout.records[0].renames == {"AB": ("A", "B")}
        assert layout.record("COUNTER").fields[0].size == 2

    def test_several_records(self):
        """Each 01 is its own record, selected by COBOL or table name."""
        text = copybook("""
        01  HEADER-REC.
            05  REC-TYPE  PIC X.
            05  RUN-DATE  PIC 9(8).
        01  DETAIL-REC.
            05  REC-TYPE  PIC X.
            05  AMOUNT    PIC S9(7)V99 COMP-3.
        """)
        layout = parse_layout(text)
        assert [r.table for r in layout.records] == ["header_rec", "detail_rec"]
        assert layout.record("detail_rec").size == 6


class TestStructure:
    def test_occurs_names_and_offsets(self):
        """OCCURS suffixes every leaf with its indices, outer first, and repeats the offsets."""
        text = copybook("""
        01  REC.
            05  MONTHS OCCURS 2 TIMES INDEXED BY M-IX.
                10  DAY-AMT  PIC S9(3) COMP-3 OCCURS 3.
                10  FLAG     PIC X.
        """)
        got = [(f.column, f.offset) for f in parse_layout(text).record().fields]
        assert got == [("day_amt_1_1", 0), ("day_amt_1_2", 2), ("day_amt_1_3", 4), ("flag_1", 6),
                       ("day_amt_2_1", 7), ("day_amt_2_2", 9), ("day_amt_2_3", 11),
                       ("flag_2", 13)]

    def test_repeated_leaf_names_take_a_group_prefix(self):
        """Leaves with the same name under different groups get the nearest group's name."""
        text = copybook("""
        01  REC.
            05  CURRENT-BAL.
                10  AMOUNT  PIC S9(7)V99 COMP-3.
            05  PREVIOUS-BAL.
                10  AMOUNT  PIC S9(7)V99 COMP-3.
        """)
        assert list(fields(text)) == ["current_bal_amount", "previous_bal_amount"]

    def test_redefines(self):
        """A redefining item starts where the redefined one does; the larger decides the size."""
        text = copybook("""
        01  REC.
            05  KEY-AREA     PIC X(8).
            05  KEY-NUM REDEFINES KEY-AREA PIC 9(8).
            05  ADDR.
                10  STREET   PIC X(20).
            05  ADDR-SHORT REDEFINES ADDR.
                10  BOX      PIC X(5).
            05  TAIL         PIC X.
        """)
        record = parse_layout(text).record()
        parsed = {f.column: f for f in record.fields}
        assert parsed["key_num"].offset == 0 and parsed["box"].offset == 8
        assert parsed["tail"].offset == 28
        assert parsed["key_num"].redefining and not parsed["key_area"].redefining
        assert set(record.redefine_branches) == {"KEY-AREA", "KEY-NUM", "ADDR", "ADDR-SHORT"}

    def test_occurs_depending_on(self):
        """ODO tables expand to their maximum and know their counter column."""
        text = copybook("""
        01  REC.
            05  N-ITEMS   PIC 9(2).
            05  ITEM OCCURS 1 TO 4 TIMES DEPENDING ON N-ITEMS.
                10  ITEM-AMT  PIC S9(5) COMP-3.
        """)
        record = parse_layout(text).record()
        assert record.size == 14
        table = record.field("item_amt_4").odo
        assert (table.count_column, table.offset, table.element_size, table.max_count) == (
            "n_items", 2, 3, 4)

    def test_types(self):
        """Arrow types: exact integers by digits, decimal128 for scales and wide numbers."""
        text = copybook("""
        01  REC.
            05  A  PIC S9(4) COMP.
            05  B  PIC 9(4) COMP.
            05  C  PIC S9(7)V99 COMP-3.
            05  D  PIC S9(25) COMP-3.
            05  E  PIC 9(10).
            05  F  COMP-2.
            05  G  PIC 9(3)PP.
        """)
        got = {c: str(f.arrow_type) for c, f in fields(text).items()}
        assert got == {"a": "int16", "b": "int32", "c": "decimal128(9, 2)",
                       "d": "decimal128(25, 0)", "e": "int64", "f": "double", "g": "int32"}
        assert fields(text)["e"].category is Category.NUMERIC


class TestErrors:
    @pytest.mark.parametrize("body, line, column, fragment", [
        ("01  REC.\n    05  A  PIC X(3) COMPX.", 2, 28, "COMPX"),
        ("01  REC.\n    05  A  PIC X(3)", 2, 27, "period"),
        ("01  REC.\n    05  A  PIC 9V9V9.", 2, 23, "V"),
        ("01  REC.\n    XX  A  PIC X.", 2, 12, "level number"),
        ("01  REC.\n    05  A  PIC X VALUE 'OPEN.", 2, 31, "unterminated"),
        ("01  REC.\n    05  A  OCCURS 5 TO 2 DEPENDING ON B PIC X.", 2, 19, "OCCURS 5 TO 2"),
    ])
    def test_syntax_error_names_line_and_column(self, body, line, column, fragment):
        """A syntax error carries the path, line and column of the offending word."""
        with pytest.raises(CopybookSyntaxError) as caught:
            parse_layout(copybook(body), "bad.cpy")
        error = caught.value
        assert (error.path, error.line, error.column) == ("bad.cpy", line, column)
        assert fragment in error.message
        assert str(error).startswith(f"MFP-1001 bad.cpy:{line}:{column}:")

    @pytest.mark.parametrize("body, line, column, field, fragment", [
        ("01  REC.\n    05  N PIC 9.\n    05  K PIC 9.\n    05  G OCCURS 0 TO 2 DEPENDING ON N."
         "\n        10  I OCCURS 0 TO 3 DEPENDING ON K.\n            15  F PIC X.\n"
         "    05  T PIC X.",
         5, 16, "I", "inside the variable table G"),
        ("01  REC.\n    05  N PIC 9.\n    05  G OCCURS 2.\n        10  I OCCURS 0 TO 3 DEPENDING"
         " ON N.\n            15  F PIC X.", 4, 16, "I", "inside the table G"),
        ("01  REC.\n    05  G OCCURS 0 TO 2 DEPENDING ON N.\n        10  N PIC 9.", 2, 12, "G",
         "must come before"),
        ("01  REC.\n    05  T OCCURS 0 TO 2 DEPENDING ON N PIC X.\n    05  N PIC 9.", 2, 12, "T",
         "must come before"),
        ("01  REC.\n    05  N PIC X.\n    05  T OCCURS 3 DEPENDING ON N PIC X.", 3, 12, "T",
         "integer numeric"),
        ("01  REC.\n    05  N PIC 9V9.\n    05  T OCCURS 3 DEPENDING ON N PIC X.", 3, 12, "T",
         "integer numeric"),
        ("01  REC.\n    05  T OCCURS 3 DEPENDING ON NOPE PIC X.", 2, 12, "T", "names no item"),
        ("01  REC.\n    05  A PIC 9(3) SIGN LEADING SEPARATE.", 2, 12, "A", "no S"),
    ])
    def test_unsupported_forms_are_refused_with_their_place(self, body, line, column, field,
                                                            fragment):
        """A form mfpipe cannot read exactly is refused, naming the file, line, column, field."""
        with pytest.raises(UnsupportedLayoutError) as caught:
            parse_layout(copybook(body), "odd.cpy")
        error = caught.value
        assert (error.path, error.line, error.column, error.field) == ("odd.cpy", line, column,
                                                                       field)
        assert fragment in error.message

    def test_group_sign_skips_unsigned_items(self):
        """A group's SIGN SEPARATE applies to its signed items; unsigned ones keep their size."""
        rec = parse_layout(copybook("01  REC SIGN LEADING SEPARATE.\n    05  A PIC S9(3).\n"
                                    "    05  B PIC 9(3).")).records[0]
        assert [(f.size, f.sign_position.name) for f in rec.fields] == [
            (4, "LEADING_SEPARATE"), (3, "NONE")]

    @pytest.mark.parametrize("picture", ["S9(3).99", "S$$9.99", "SZZ9"])
    def test_s_in_an_edited_picture(self, picture):
        """S in an edited picture is a syntax error that says how to sign it, not a crash."""
        with pytest.raises(CopybookSyntaxError, match="use \\+, -, CR or DB"):
            parse_layout(copybook(f"01  REC.\n    05  A PIC {picture}."))

    @pytest.mark.parametrize("body, fragment", [
        ("01  REC.", "no elementary item"),
        ("01  REC.\n    05  FILLER PIC X(3).", "no elementary item"),
        ("01  REC.\n    05  A OCCURS 99999999 PIC X.", "99,999,999 columns"),
        ("01  REC.\n    05  G OCCURS 200.\n        10  H OCCURS 200 PIC X.", "40,000 columns"),
        ("01  REC.\n    05  A PIC X(900000) OCCURS 20.", "more than 16,777,216"),
        ("01  REC.\n    05  A PIC X.\n    05  FILLER PIC X OCCURS 99999999.",
         "more than 16,777,216"),
    ])
    def test_records_beyond_any_table_are_refused_at_once(self, body, fragment):
        """Empty records, more columns than any table holds, or records larger than any
        data set's are a layout error at once (OCCURS 99999999 used never to finish)."""
        with pytest.raises(LayoutError, match=fragment):
            parse_layout(copybook(body))

    def test_picture_repeat_cap(self):
        """PIC X(99999999) is refused with the count, not expanded (53 s and 985 MB)."""
        with pytest.raises(CopybookSyntaxError, match="repeat count 99999999"):
            parse_layout(copybook("01  REC.\n    05  A PIC X(99999999)."))

    def test_lineage_names_are_prefixed(self):
        """Fields named like the lineage columns load as cobol_<name>, never a second column
        of that name."""
        rec = parse_layout(copybook("01  REC.\n    05  RUN-ID PIC X.\n    05  RECORD-NO PIC 9."
                                    "\n    05  LAST-RUN-ID PIC X.")).records[0]
        assert [f.column for f in rec.fields] == ["cobol_run_id", "cobol_record_no",
                                                  "cobol_last_run_id"]

    def test_redefines_unknown_item(self):
        """REDEFINES of an item that is not an earlier sibling is a layout error naming both."""
        with pytest.raises(LayoutError, match="REDEFINES NOPE"):
            parse_layout(copybook("01  REC.\n    05  A REDEFINES NOPE PIC X."))

    def test_errors_pickle(self):
        """Errors cross process boundaries: they pickle with their attributes."""
        error = CopybookSyntaxError("a.cpy", 3, 7, "boom", field="X")
        copy = pickle.loads(pickle.dumps(error))
        assert (copy.path, copy.line, copy.column, copy.field) == ("a.cpy", 3, 7, "X")
        assert str(copy) == str(error)

    def test_missing_copybook(self, tmp_path):
        """A copybook that does not exist is an input error, not a traceback."""
        from mfpipe.errors import InputError
        with pytest.raises(InputError):
            load_layout(tmp_path / "missing.cpy")
