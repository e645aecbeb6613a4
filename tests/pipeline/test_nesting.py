"""``convert --nested``: each root record with its children inside it. Checked against a
plain record-by-record model of the hierarchy: however the file is cut into chunks, every
record is a nested row or a reject with the model's reason, and each sits under the parent
the model gives it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.codec import Branch, DecodeOptions, DecodePlan, Parent, Reason
from mfpipe.errors import ConfigError
from mfpipe.framing import FramingOptions
from mfpipe.pipeline.convert import convert_file, rejects_path_for
from tests.codec.helpers import record

# R roots, C children of R, G children of C, S children of R (C's sibling); a lower-case
# letter is a record of that segment with a bad value, '?' a record of no segment
LAYOUT = """
01  REC.
    05  KIND   PIC X.
    05  ROOT-PART.
        10  RID    PIC 9(3).
    05  CHILD-PART REDEFINES ROOT-PART.
        10  CQTY   PIC 9(3).
    05  GRAND-PART REDEFINES ROOT-PART.
        10  GQTY   PIC 9(3).
    05  SIB-PART REDEFINES ROOT-PART.
        10  SQTY   PIC 9(3).
"""
PART = {"R": "ROOT-PART", "C": "CHILD-PART", "G": "GRAND-PART", "S": "SIB-PART"}
VALUE = {"R": "rid", "C": "cqty", "G": "gqty", "S": "sqty"}
PARENT = {"C": "R", "G": "C", "S": "R"}
OPTIONS = DecodeOptions(
    branches=tuple(Branch(PART[k], "kind", (k,)) for k in "RCGS"),
    parents=tuple(Parent(PART[c], PART[p]) for c, p in PARENT.items()))
FRAMING = FramingOptions("F", lrecl=4)


def records(kinds: str) -> bytes:
    """Record n holds n (mod 1000) as its number; a bad one "0X0" in its place."""
    return b"".join((k.upper() + ("0X0" if k.islower() else f"{n % 1000:03d}")).encode("cp037")
                    for n, k in enumerate(kinds, 1))


def model(kinds: str) -> tuple[list[dict], dict[int, str]]:
    """The nested rows and the rejects (record number: reason) of a file, record by record.
    A child's parent is the last record of its parent segment, unless a record outside that
    parent's subtree (or of no segment) came after it; a child of a reject is a reject."""
    last: dict[str, int] = {"R": 0, "C": 0}
    placed: dict[int, dict] = {}
    rows: list[dict] = []
    rejects: dict[int, str] = {}
    for n, k in enumerate(kinds, 1):
        kind = k.upper()
        parent = last[PARENT[kind]] if kind in PARENT else None
        if k == "?":
            last = {"R": 0, "C": 0}
            rejects[n] = Reason.NO_SEGMENT.text
            continue
        last.update({"R": n, "C": 0} if kind == "R" else {"C": n} if kind == "C" else
                    {"C": 0} if kind == "S" else {})
        if parent == 0:
            rejects[n] = Reason.ZONED_DIGIT.text if k.islower() else Reason.NO_PARENT.text
        elif parent is not None and parent not in placed:
            rejects[n] = Reason.PARENT_REJECTED.text
        elif k.islower():
            rejects[n] = Reason.ZONED_DIGIT.text
        else:
            row = {"kind": kind, VALUE[kind]: n % 1000}
            row.update({"child_part": [], "sib_part": []} if kind == "R" else
                       {"grand_part": []} if kind == "C" else {})
            placed[n] = row
            if parent is None:
                rows.append(row)
            else:
                siblings = {"C": "child_part", "G": "grand_part", "S": "sib_part"}[kind]
                placed[parent][siblings].append(row)
    return rows, rejects


def convert(tmp_path: Path, kinds: str, chunk_records: int, output: str = "out.jsonl",
            **extra: object):
    source = tmp_path / "in.dat"
    source.write_bytes(records(kinds))
    result = convert_file(record(LAYOUT), source, tmp_path / output, FRAMING, OPTIONS,
                          chunk_records, nested=True, **extra)  # type: ignore[arg-type]
    rejects = [json.loads(line) for line in
               rejects_path_for(tmp_path / output).read_text().splitlines()]
    return result, rejects


def written(tmp_path: Path, output: str = "out.jsonl") -> list[dict]:
    if output.endswith(".parquet"):
        return pq.read_table(tmp_path / output).to_pylist()
    return [json.loads(line) for line in (tmp_path / output).read_text().splitlines()]


KINDS = st.text(alphabet="RrCcGgSs?", max_size=40)


class TestAgainstTheModel:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(kinds=KINDS, chunk_records=st.integers(1, 45))
    def test_every_record_nested_or_rejected_as_the_model_says(self, tmp_path, kinds,
                                                               chunk_records):
        """However the chunks are cut: the model's rows and rejects, nothing else, and
        read = written + rejected."""
        result, rejects = convert(tmp_path, kinds, chunk_records)
        rows, reasons = model(kinds)
        assert written(tmp_path) == rows
        assert {r["record_no"]: r["reason"] for r in rejects} == reasons
        assert [r["record_no"] for r in rejects] == sorted(reasons)  # in record order
        assert (result.read, result.written + result.rejected) == (len(kinds), len(kinds))
        assert result.rows == len(rows)

    def test_a_family_split_across_many_chunks(self, tmp_path):
        kinds = "R" + "CGG" * 20 + "S" + "R" + "C"
        _, rejects = convert(tmp_path, kinds, 2)
        assert written(tmp_path) == model(kinds)[0] and not rejects
        assert [len(r["child_part"]) for r in written(tmp_path)] == [20, 1]

    def test_children_of_a_rejected_parent_are_rejects(self, tmp_path):
        """A bad root takes its whole family with it, grandchildren included."""
        _, rejects = convert(tmp_path, "RCrCGSRC", 3)
        assert [(r["record_no"], r["reason"]) for r in rejects] == [
            (3, Reason.ZONED_DIGIT.text), (4, Reason.PARENT_REJECTED.text),
            (5, Reason.PARENT_REJECTED.text), (6, Reason.PARENT_REJECTED.text)]
        assert [r["rid"] for r in written(tmp_path)] == [1, 7]

    def test_a_record_of_no_segment_ends_its_neighbours_links(self, tmp_path):
        """A record whose discriminator names no segment may be the parent, corrupted:
        the children after it are rejects, never nested under the parent before it."""
        _, rejects = convert(tmp_path, "RC?CG", 10)
        assert [(r["record_no"], r["reason"]) for r in rejects] == [
            (3, Reason.NO_SEGMENT.text), (4, Reason.NO_PARENT.text),
            (5, Reason.PARENT_REJECTED.text)]
        assert written(tmp_path) == model("RC")[0]

    def test_parquet_holds_the_same_rows(self, tmp_path):
        kinds = "RCGGCSRRSC"
        convert(tmp_path, kinds, 4, "out.parquet")
        assert written(tmp_path, "out.parquet") == model(kinds)[0]

    def test_provenance_inside_the_nesting(self, tmp_path):
        convert(tmp_path, "RCG", 2, provenance=True)
        (row,) = written(tmp_path)
        assert (row["_record_no"], row["_byte_offset"], row["_source_file"]) == (
            1, 0, str(tmp_path / "in.dat"))
        child = row["child_part"][0]
        assert (child["_record_no"], child["_byte_offset"]) == (2, 4)
        assert child["grand_part"][0]["_record_no"] == 3


class TestRefused:
    @pytest.mark.parametrize(("options", "message"), [
        (DecodeOptions(branches=OPTIONS.branches), "--nested needs the hierarchy"),
        (DecodeOptions(branches=OPTIONS.branches, parents=OPTIONS.parents[:2]),
         "one root segment.*without a parent: ROOT-PART, SIB-PART"),
        (DecodeOptions(branches=OPTIONS.branches, parents=OPTIONS.parents,
                       segment="CHILD-PART"), "give one or the other"),
    ])
    def test_options_that_do_not_make_one_tree(self, tmp_path, options, message):
        (tmp_path / "in.dat").write_bytes(records("RC"))
        with pytest.raises(ConfigError, match=message):
            convert_file(record(LAYOUT), tmp_path / "in.dat", tmp_path / "o.jsonl", FRAMING,
                         options, nested=True)
        assert not (tmp_path / "o.jsonl").exists()

    def test_a_child_named_like_its_parents_column(self, tmp_path):
        layout = LAYOUT.replace("RID    PIC", "CHILD-PART-X PIC").replace(
            "CHILD-PART REDEFINES", "CHILD-PART-X REDEFINES")
        options = DecodeOptions(
            branches=(Branch("ROOT-PART", "kind", ("R",)), Branch("CHILD-PART-X", "kind", ("C",))),
            parents=(Parent("CHILD-PART-X", "ROOT-PART"),))
        (tmp_path / "in.dat").write_bytes(records("RC"))
        with pytest.raises(ConfigError, match="column child_part_x twice"):
            convert_file(record(layout), tmp_path / "in.dat", tmp_path / "o.jsonl", FRAMING,
                         options, nested=True)

    def test_one_value_selecting_two_segments(self):
        """Its records would be rows of both segments: refused for every segment load."""
        options = DecodeOptions(branches=(Branch("ROOT-PART", "kind", ("R", "C")),
                                          Branch("CHILD-PART", "kind", ("C",))),
                                segment="ROOT-PART")
        with pytest.raises(ConfigError, match="kind C selects both"):
            DecodePlan.compile(record(LAYOUT), options)
