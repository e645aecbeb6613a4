"""Parents of child segments: found by a running maximum within a chunk, carried across
chunks; wherever the chunks are cut, each child gets the same parent."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfpipe.codec import Branch, DecodeOptions, DecodePlan, Parent, Reason
from mfpipe.codec.segments import NO_CARRY, ParentLink
from mfpipe.errors import ConfigError
from tests.codec.helpers import matrix, record

LAYOUT = """
01  REC.
    05  KIND   PIC X.
    05  HEAD.
        10  NAME   PIC X(3).
    05  LINE REDEFINES HEAD.
        10  QTY    PIC 9(3).
"""
OPTIONS = DecodeOptions(branches=(Branch("HEAD", "kind", ("H",)), Branch("LINE", "kind", ("L",))),
                        segment="LINE", parents=(Parent("LINE", "HEAD", ("name",)),))


def records(kinds: str) -> list[bytes]:
    """'H' heads named after their position, 'L' lines, '?' a record of no segment."""
    return [(k + (f"N{i:02d}" if k == "H" else "001")).encode("cp037")
            for i, k in enumerate(kinds)]


def expected_links(kinds: str) -> list[tuple[int, str | None]]:
    """(parent record number, parent name) of each record: the nearest 'H' before it, unless
    a record of no segment lies between them (it may be the parent, corrupted)."""
    found, last = [], (0, None)
    for i, k in enumerate(kinds):
        if k == "H":
            last = (i + 1, f"N{i:02d}")
        elif k == "?":
            last = (0, None)
        found.append(last)
    return found


def link_in_chunks(kinds: str, cuts: list[int]) -> list[tuple[int, str | None]]:
    plan = DecodePlan.compile(record(LAYOUT), OPTIONS)
    link = ParentLink.of(plan)
    assert link is not None
    rows, carry, found = matrix(records(kinds), 7), NO_CARRY, []
    bounds = [0, *sorted(set(cuts)), len(kinds)]
    for lo, hi in zip(bounds, bounds[1:]):
        linked = link.link(rows[lo:hi], lo + 1, np.arange(lo, hi) * 7, None, carry)
        found += list(zip(linked.parent_no.tolist(), linked.keys[0].to_pylist()))
        carry = linked.carry
    return found


class TestParentLink:
    def test_children_get_the_nearest_parent_before_them(self):
        kinds = "LHLLHL?LHL"
        assert link_in_chunks(kinds, []) == expected_links(kinds)
        assert [no for no, _ in expected_links(kinds)] == [0, 2, 2, 2, 5, 5, 0, 0, 9, 9]

    @given(st.text(alphabet="HL?", max_size=40), st.lists(st.integers(0, 40), max_size=6))
    def test_the_chunks_cut_changes_no_link(self, kinds, cuts):
        """However the file is cut into chunks, each record's parent is the same."""
        assert link_in_chunks(kinds, [c for c in cuts if c <= len(kinds)]) == \
            expected_links(kinds)

    def test_a_child_without_a_parent_is_a_reject(self):
        plan = DecodePlan.compile(record(LAYOUT), OPTIONS)
        rows = matrix(records("LHL"), 7)
        linked = ParentLink.of(plan).link(rows, 1, np.arange(3) * 7, None, NO_CARRY)
        out = plan.decode(rows, 1, np.arange(3) * 7, linked=linked)
        assert out.record_no.tolist() == [3]
        assert out.batch.column("parent_record_no").to_pylist() == [2]
        assert out.batch.column("parent_name").to_pylist() == ["N01"]
        assert out.rejects.column("reason").to_pylist() == [Reason.NO_PARENT.text]

    def test_a_parent_whose_key_does_not_decode_is_still_the_parent(self):
        """A head whose name does not decode is still the parent of the lines after it
        (its own segment rejects it): they carry its record number and a NULL name, never
        the name of the head before it."""
        options = DecodeOptions(branches=OPTIONS.branches, segment="LINE",
                                parents=(Parent("LINE", "HEAD", ("name",)),),
                                low_values="reject")
        plan = DecodePlan.compile(record(LAYOUT), options)
        rows = matrix([*records("H"), b"\xc8\x00\x00\x00", *records("L")[:1]], 7)
        linked = ParentLink.of(plan).link(rows, 1, np.arange(3) * 7, None, NO_CARRY)
        assert linked.parent_no.tolist() == [1, 2, 2]
        assert linked.keys[0].to_pylist() == ["N00", None, None]


class TestRefused:
    DISCRIMINATOR_AFTER_TABLE = """
    01  REC.
        05  N      PIC 9.
        05  T      PIC X OCCURS 0 TO 3 DEPENDING ON N.
        05  KIND   PIC X.
        05  HEAD.
            10  NAME   PIC X(3).
        05  LINE REDEFINES HEAD.
            10  QTY    PIC 9(3).
    """
    COUNT_IN_OTHER_SEGMENT = """
    01  REC.
        05  KIND   PIC X.
        05  HEAD.
            10  NAME   PIC X(8).
        05  LINE REDEFINES HEAD.
            10  N      PIC 9.
            10  ITEM   PIC X OCCURS 0 TO 7 DEPENDING ON N.
    """

    def test_a_parent_discriminator_whose_place_moves(self):
        """After a variable table the discriminator's place moves with the count: parents
        found at one fixed place would be wrong, so the hierarchy is refused."""
        with pytest.raises(ConfigError, match="kind is not a field of HEAD's records before"):
            DecodePlan.compile(record(self.DISCRIMINATOR_AFTER_TABLE), OPTIONS)

    def test_a_variable_table_counted_in_another_segment(self):
        options = DecodeOptions(branches=OPTIONS.branches, segment="HEAD")
        with pytest.raises(ConfigError, match="count n of a variable table"):
            DecodePlan.compile(record(self.COUNT_IN_OTHER_SEGMENT), options)
