"""A copybook and option fuzzer: thousands of generated layouts and option sets.

Every outcome is a layout whose records decode (rows and rejects), or a clear mfpipe error
(a syntax, layout or configuration error: exit 64/78 at the command line). Never another
exception (the CLI's exit 70), never a hang: sizes are capped by the layout passes.
"""

from __future__ import annotations

import os

import numpy as np
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.db import dialects
from mfpipe.codec import Branch, DecodeOptions, DecodePlan, Parent
from mfpipe.codec.segments import NO_CARRY, ParentLink
from mfpipe.db.schema import final_table, staging_table
from mfpipe.errors import MfpipeError
from mfpipe.layout import parse_layout

EXAMPLES = int(os.environ.get("MFPIPE_FUZZ_EXAMPLES", "400"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

NAMES = ["A", "B-1", "CNT", "N", "KIND", "BODY", "NOTE", "AMT", "RUN-ID", "X", "FILLER",
         "TAB", "DATE-8"]
SYMBOLS = ["9", "X", "A", "S", "V", "P", "Z", "*", "+", "-", "$", ",", ".", "B", "0", "/",
           "CR", "DB", "N", "(3)", "(12)", "(0)", "(", ")"]
USAGES = ["", "COMP", "COMP-3", "COMP-5", "BINARY", "COMP-1", "COMP-2", "PACKED-DECIMAL",
          "DISPLAY", "COMP-4", "NATIONAL", "INDEX", "POINTER", "COMP-3U"]
CLAUSES = ["", "SIGN LEADING", "SIGN TRAILING SEPARATE", "SIGN LEADING SEPARATE CHARACTER",
           "SYNC", "JUST RIGHT", "BLANK WHEN ZERO", "VALUE 'A'", "VALUE 0", "VALUE SPACES",
           "OCCURS 2", "OCCURS 3 TIMES", "OCCURS 0 TO 3 DEPENDING ON CNT",
           "OCCURS 2 DEPENDING ON N", "OCCURS 1 TO 2 DEPENDING ON KIND",
           "REDEFINES BODY", "REDEFINES A", "INDEXED BY I", "OCCURS 5 TO 2 DEPENDING ON CNT"]
PICTURES = ["9(3)", "S9(5)V99", "X(4)", "S9(3)PP", "SVPP99", "ZZ9.99-", "$$,$$9.99CR",
            "99/99/99", "N(2)", "9(18)", "S9(31)", "9", "XX", "***.**", "+ZZ9", "9V9"]


@st.composite
def pictures(draw: st.DrawFn) -> str:
    """A picture: mostly a realistic one, sometimes symbols strung together at random."""
    if draw(st.integers(0, 19)):
        return draw(st.sampled_from(PICTURES))
    return "".join(draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=6)))


def _rarely(common: list[str], rare: list[str]) -> st.SearchStrategy[str]:
    """One of ``common`` 29 times in 30, else one of ``rare`` (so most copybooks are valid
    and their records are decoded, and some are not)."""
    return st.integers(0, 29).flatmap(lambda i: st.sampled_from(rare if i == 0 else common))


@st.composite
def entries(draw: st.DrawFn) -> str:
    """One data entry: level, name, PIC or not, USAGE, a clause; now and then something odd."""
    level = draw(_rarely(["05", "05", "10"], ["15", "88", "66", "77", "01", "49", "50", "5"]))
    name = draw(st.sampled_from(NAMES))
    if level == "88":
        value = draw(st.sampled_from(["1", "'A'", "1 THRU 5"]))
        return f"{level} {name}-OK VALUE {value}."
    parts = [level, name]
    if draw(st.integers(0, 5)):
        parts += ["PIC", draw(pictures())]
    parts += [draw(_rarely([""], USAGES)), draw(_rarely([""], CLAUSES))]
    return " ".join(p for p in parts if p) + "."


@st.composite
def copybooks(draw: st.DrawFn) -> str:
    """A copybook: an 01 record and up to 12 entries, sometimes in free format, sometimes
    with a line of noise."""
    lines = ["01 REC."] + draw(st.lists(entries(), min_size=1, max_size=12))
    if draw(st.integers(0, 9)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(
            alphabet="ABC09 .()'-*", max_size=20)))
    indent = draw(st.sampled_from(["       ", "      ", ""]))
    return "\n".join(indent + line for line in lines) + "\n"


OPTIONS = st.builds(
    DecodeOptions,
    encoding=st.sampled_from(["cp037", "ascii", "cp1047", "cp1141"]),
    spaces_numeric=st.sampled_from(["null", "reject"]),
    low_values=st.sampled_from(["space", "reject", "keep"]),
    float_format=st.sampled_from(["ibm", "ieee"]), strict_signs=st.booleans(),
    binary_range=st.sampled_from(["full", "pic"]), odo=st.sampled_from(["variable", "fixed"]),
    invalid_numeric=st.sampled_from(["reject", "null"]),
    branches=st.sampled_from([(), (Branch("BODY", "kind", ("B",)),),
                              (Branch("NOTE", "n", ("1",)),),
                              (Branch("BODY", "kind", ("B",)), Branch("NOTE", "kind", ("N",)))]),
    segment=st.sampled_from([None, None, "BODY", "NOTE"]),
    parents=st.sampled_from([(), (), (Parent("NOTE", "BODY"),),
                             (Parent("NOTE", "BODY", ("kind",)),)]))


@SETTINGS
@given(text=copybooks(), options=OPTIONS, data=st.data())
def test_any_copybook_and_options_decode_or_fail_clearly(text, options, data):
    """Parse, compile, build the tables and decode random records: every step either works
    or raises an MfpipeError (a clear message with its exit code), nothing else."""
    try:
        layout = parse_layout(text, "fuzz.cpy")
        for record in layout.records:
            plan = DecodePlan.compile(record, options)
            for dialect in map(dialects.get, dialects.NAMES):
                staging_table(sa.MetaData(), record.table, plan.schema, dialect)
                final_table(sa.MetaData(), record.table, plan.schema, dialect)
            n = data.draw(st.integers(0, 4))
            raw = data.draw(st.binary(min_size=n * record.size, max_size=n * record.size))
            rows = np.frombuffer(raw, dtype=np.uint8).reshape(n, record.size)
            lengths = np.array(data.draw(st.lists(st.integers(0, record.size + 2), min_size=n,
                                                  max_size=n)), dtype=np.int64)
            offsets = np.arange(n, dtype=np.int64) * record.size
            given = lengths if data.draw(st.booleans()) else None
            link = ParentLink.of(plan)
            linked = link.link(rows, 1, offsets, given, NO_CARRY) if link else None
            out = plan.decode(rows, 1, offsets, given, linked=linked)
            elsewhere = 0 if out.elsewhere is None else len(out.elsewhere)
            assert out.batch.num_rows + out.rejects.num_rows + elsewhere == n
            out.batch.validate(full=True)
    except MfpipeError as error:
        assert error.exit_code in (64, 65, 78), error
        assert str(error)
