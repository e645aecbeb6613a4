"""GnuCOBOL as an independent oracle: a real COBOL program writes records through a copybook,
prints each field as COBOL sees it, and mfpipe must decode the written bytes to those values.

GnuCOBOL writes DISPLAY data in ASCII (negative overpunch as ``p``-``y``, as Micro Focus does),
binary big-endian (``-fbinary-size=2-4-8`` gives IBM's halfword/fullword/doubleword sizes),
packed decimal with C/D/F signs. The value COBOL sees is printed by moving the field to a wide
``SIGN LEADING SEPARATE`` item, which de-edits numeric-edited fields.

Where GnuCOBOL disagrees with IBM's Enterprise COBOL Language Reference, IBM wins, and those
pictures are checked against IBM's rule (the stored digits times 10**P) in
``tests/codec/test_binary.py::TestScaling`` and the property tests instead: GnuCOBOL 3.1.2
stores integer P-scaled COMP-3 (``S9(3)PPP COMP-3``) wrongly, stores ``MOVE 0.0069`` into
``SVPP99 COMP-3`` as X'000C' (zero) and displays it as 0.0003, and ``MOVE 0`` to a P-scaled
binary item (``S9(3)PPP COMP``) never returns. Its P-scaled DISPLAY items are right and tested.
GnuCOBOL also de-edits ``  0.01DB`` as +0.01 (``CR`` and ``-`` as minus); IBM reads DB as a
minus sign, so for DB pictures the printed bytes are checked against the value moved in.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.layout import parse_layout

pytestmark = pytest.mark.skipif(shutil.which("cobc") is None,
                                reason="GnuCOBOL (cobc, Debian package gnucobol3) not installed")

# (picture and usage, digits left of the point, digits right of it, signed, P right of digits)
PICTURES = [
    ("PIC S9(5)V99", 5, 2, True, 0),
    ("PIC S9(4) SIGN LEADING", 4, 0, True, 0),
    ("PIC S9(4)V9 SIGN LEADING SEPARATE", 4, 1, True, 0),
    ("PIC S9(3) SIGN TRAILING SEPARATE", 3, 0, True, 0),
    ("PIC 9(6)", 6, 0, False, 0),
    ("PIC S9(3)PP", 3, 0, True, 2),
    ("PIC SVPP9(3)", 0, 5, True, 0),
    ("PIC S9(15)V9(3)", 15, 3, True, 0),
    ("PIC S9(7)V99 COMP-3", 7, 2, True, 0),
    ("PIC 9(5) COMP-3", 5, 0, False, 0),
    ("PIC S9(4) COMP-3", 4, 0, True, 0),
    ("PIC S9(18) COMP-3", 18, 0, True, 0),
    ("PIC S9(4) COMP", 4, 0, True, 0),
    ("PIC 9(4) BINARY", 4, 0, False, 0),
    ("PIC S9(9) COMP-4", 9, 0, True, 0),
    ("PIC S9(7)V99 COMP", 7, 2, True, 0),
    ("PIC S9(17) COMP", 17, 0, True, 0),
    ("PIC ZZZ,ZZ9.99-", 6, 2, True, 0),
    ("PIC $$$,$$9.99CR", 6, 2, True, 0),
    ("PIC +ZZ9", 3, 0, True, 0),
    ("PIC ---,--9.99", 6, 2, True, 0),
    ("PIC ***,**9.99", 6, 2, False, 0),
    ("PIC ZZ9.99DB", 3, 2, True, 0),
    ("PIC 9(5).99", 5, 2, False, 0),
    ("PIC ZZ,ZZ9", 5, 0, False, 0),
    ("PIC 99/99/99", 6, 0, False, 0),
    ("PIC ZZZZ.ZZ", 4, 2, False, 0),
]
RECORDS = 40
DE_EDITED_WRONGLY = {"PIC ZZ9.99DB"}  # GnuCOBOL 3.1.2 drops the DB sign when de-editing


def _value(rng: random.Random, whole: int, decimals: int, signed: bool, p: int) -> Decimal:
    """A value the picture holds exactly (multiples of 10**p where P scales it)."""
    top = 10 ** (whole + decimals) - 1
    unscaled = rng.choice([0, 1, top, rng.randint(0, top), rng.randint(0, 10 ** rng.randint(
        0, whole + decimals))])
    unscaled = min(unscaled, top)
    if signed and rng.random() < 0.5:
        unscaled = -unscaled
    return Decimal(unscaled).scaleb(p - decimals)


def _program(pictures: list[tuple], values: list[list[Decimal]]) -> tuple[str, str]:
    """(copybook, program) writing one record per row of values and displaying every field."""
    fields = "".join(f"           05 F{i} {clause}.\n" for i, (clause, *_) in enumerate(pictures))
    copybook = "       01 REC.\n" + fields
    statements = []
    for row in values:
        statements += [f"           MOVE {v:f} TO F{i}\n" for i, v in enumerate(row)]
        statements.append("           WRITE REC\n")
        for i in range(len(row)):
            statements.append(f"           MOVE F{i} TO WS-N\n           DISPLAY WS-N\n")
    program = (
        "       IDENTIFICATION DIVISION.\n"
        "       PROGRAM-ID. ORACLE.\n"
        "       ENVIRONMENT DIVISION.\n"
        "       INPUT-OUTPUT SECTION.\n"
        "       FILE-CONTROL.\n"
        "           SELECT OUT-FILE ASSIGN TO \"records.dat\"\n"
        "               ORGANIZATION IS SEQUENTIAL.\n"
        "       DATA DIVISION.\n"
        "       FILE SECTION.\n"
        "       FD OUT-FILE.\n"
        + copybook +
        "       WORKING-STORAGE SECTION.\n"
        "       01 WS-N PIC S9(20)V9(10) SIGN LEADING SEPARATE.\n"
        "       PROCEDURE DIVISION.\n"
        "           OPEN OUTPUT OUT-FILE\n"
        + "".join(statements) +
        "           CLOSE OUT-FILE\n"
        "           STOP RUN.\n")
    return copybook, program


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_mfpipe_reads_what_cobol_wrote(tmp_path: Path, seed: int):
    """Every field of every record decodes to the value the COBOL program sees in it; each
    seed lays out its own record (a random choice and order of the pictures, some twice)."""
    rng = random.Random(seed)
    pictures = rng.choices(PICTURES, k=rng.randint(8, 2 * len(PICTURES)))
    values = [[_value(rng, *spec) for _, *spec in pictures] for _ in range(RECORDS)]
    copybook, program = _program(pictures, values)
    (tmp_path / "oracle.cob").write_text(program)
    subprocess.run(["cobc", "-x", "-fbinary-size=2-4-8", "-o", "oracle", "oracle.cob"],
                   cwd=tmp_path, check=True, capture_output=True)
    shown = subprocess.run(["./oracle"], cwd=tmp_path, check=True, capture_output=True,
                           text=True, timeout=60).stdout.split()
    expected = [Decimal(text) for text in shown]  # DISPLAY prints the implied point

    rec = parse_layout(copybook, "oracle.cpy").records[0]
    raw = (tmp_path / "records.dat").read_bytes()
    assert len(raw) == RECORDS * rec.size
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(RECORDS, rec.size)
    out = DecodePlan.compile(rec, DecodeOptions(encoding="ascii")).decode(
        rows, 1, np.arange(RECORDS, dtype=np.int64) * rec.size)
    assert out.rejects.to_pylist() == []
    decoded = [[Decimal(str(v)) for v in row.values()] for row in out.batch.to_pylist()]
    for r, row in enumerate(decoded):
        for i, got in enumerate(row):
            want = expected[r * len(pictures) + i]
            if pictures[i][0] in DE_EDITED_WRONGLY:
                want = values[r][i]
            assert got == want, f"record {r + 1}, {pictures[i][0]}: mfpipe {got}, COBOL {want}"
