"""PICTURE strings, parsed once into digits, scale, sign and size.

``9(12)V99``, ``9(12)V9(2)`` and ``999999999999V99`` are one picture: the repeat counts are
expanded first, then a single scan classifies every symbol. No regex per spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mfpipe.layout.types import Category

_REPEAT = re.compile(r"(CR|DB|.)\((\d+)\)")
_NUMERIC_SYMBOLS = set("9SVP")
_EDIT_SYMBOLS = set("Z*+-.,$B0/") | {"CR", "DB"}
_DIGIT_EDIT = set("9Z*")
_FLOATING = set("+-$")


@dataclass(frozen=True, slots=True)
class Picture:
    """What one PICTURE string means; ``size`` is the DISPLAY size in bytes."""

    text: str
    category: Category
    digits: int
    scale: int
    signed: bool
    size: int


MAX_REPEAT = 1_000_000  # a field larger than any record a data set holds (32,760 bytes)


def expand_picture(text: str) -> list[str]:
    """Expand repeat counts into a list of symbols: ``S9(3)V99CR`` -> S 9 9 9 V 9 9 CR."""
    upper = text.upper()
    for count in _REPEAT.findall(upper):
        if int(count[1]) > MAX_REPEAT:
            raise ValueError(f"repeat count {count[1]} in PIC {text} is above {MAX_REPEAT:,}")
    expanded = _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), upper)
    if "(" in expanded or ")" in expanded:
        raise ValueError(f"unbalanced or empty repeat count in PIC {text}")
    symbols: list[str] = []
    i = 0
    while i < len(expanded):
        pair = expanded[i:i + 2]
        if pair in ("CR", "DB"):
            symbols.append(pair)
            i += 2
        else:
            symbols.append(expanded[i])
            i += 1
    return symbols


def parse_picture(text: str) -> Picture:
    """Classify a PICTURE string; raise ``ValueError`` naming the symbol that does not fit."""
    symbols = expand_picture(text)
    if not symbols:
        raise ValueError("empty PICTURE")
    kinds = set(symbols)
    if kinds <= {"N"}:
        return Picture(text, Category.NATIONAL, len(symbols), 0, False, 2 * len(symbols))
    if kinds <= {"X", "A", "9", "B", "0", "/"} and kinds & {"X", "A"}:
        return Picture(text, Category.ALPHANUMERIC, len(symbols), 0, False, len(symbols))
    if kinds <= _NUMERIC_SYMBOLS:
        return _numeric(text, symbols)
    if kinds <= (_EDIT_SYMBOLS | _NUMERIC_SYMBOLS) - {"S"}:
        return _edited(text, symbols)
    bad = next((s for s in symbols if s not in _EDIT_SYMBOLS | _NUMERIC_SYMBOLS | {"X", "A", "N"}),
               None)
    if bad is not None:
        raise ValueError(f"symbol {bad!r} is not allowed in PIC {text}")
    if "S" in kinds:
        raise ValueError(f"S cannot sign an edited picture (PIC {text}); use +, -, CR or DB")
    raise ValueError(f"PIC {text} mixes text symbols (X, A, N) with numeric or edit symbols")


def _numeric(text: str, symbols: list[str]) -> Picture:
    signed = symbols[0] == "S"
    body = "".join(symbols[1:] if signed else symbols)
    if "S" in body or body.count("V") > 1:
        raise ValueError(f"S must come first and V at most once in PIC {text}")
    digits = body.count("9")
    if digits == 0:
        raise ValueError(f"no digit positions in PIC {text}")
    positions = body.replace("V", "")
    if positions.startswith("P"):  # PP99 and VPP99: .00dd, scale 4
        scale = len(positions) - len(positions.lstrip("P")) + digits
    elif positions.endswith("P"):  # 999PP: ddd00, scale -2
        scale = -(len(positions) - len(positions.rstrip("P")))
    else:
        scale = body.partition("V")[2].count("9")
    if "P" in positions.strip("P"):
        raise ValueError(f"P must stand at either end of the digits in PIC {text}")
    return Picture(text, Category.NUMERIC, digits, scale, signed, digits)


def _edited(text: str, symbols: list[str]) -> Picture:
    """Numeric-edited: digit positions are 9, Z, * and the floating symbols after the first."""
    if "P" in symbols:  # de-editing reads the printed digits; a P would scale them unseen
        raise ValueError(f"P scaling in the edited picture {text} is not supported")
    digits = 0
    scale = 0
    after_point = False
    floating_seen: set[str] = set()
    for symbol in symbols:
        is_digit = symbol in _DIGIT_EDIT
        if symbol in _FLOATING:
            # the first of a floating string is an insertion character, the rest hold digits
            is_digit = symbol in floating_seen
            floating_seen.add(symbol)
        if symbol in ("V", "."):
            after_point = True
        if is_digit:
            digits += 1
            scale += after_point
    if digits == 0:
        raise ValueError(f"no digit positions in PIC {text}")
    signed = bool({"+", "-", "CR", "DB"} & set(symbols))
    size = sum(2 if s in ("CR", "DB") else 0 if s in ("V", "P") else 1 for s in symbols)
    return Picture(text, Category.NUMERIC_EDITED, digits, scale, signed, size)
