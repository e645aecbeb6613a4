"""Fixed-width text tables and fields that wrap instead of overflowing or truncating.

The text report goes out by email and is signed off as written: a cell that is too long
wraps inside its column (no value is cut short), and no line exceeds ``WIDTH`` columns.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from itertools import zip_longest

from mfpipe.report._common import printable

WIDTH = 100
INDENT = "  "
GAP = "  "


def wrap(text: object, width: int) -> list[str]:
    """A value cut into lines of at most ``width`` columns; [""] for an empty value."""
    return textwrap.wrap(printable(text), width, break_long_words=True,
                         break_on_hyphens=False) or [""]


def field(label: str, value: object, label_width: int = 14) -> list[str]:
    """``  Label         : value``, the value wrapping under itself."""
    prefix = f"{INDENT}{label:<{label_width}}: "
    lines = wrap(value if str(value) else "-", WIDTH - len(prefix))
    return [prefix + lines[0]] + [" " * len(prefix) + line for line in lines[1:]]


def indented(text: object, indent: str) -> list[str]:
    """A paragraph wrapped to the page, every line starting with ``indent``."""
    return [indent + line for line in wrap(text, WIDTH - len(indent))]


def fit(values: Sequence[object], header: str, cap: int) -> int:
    """A column width that fits the header and the longest value, but at most ``cap``."""
    return min(max([len(header), *(len(printable(value)) for value in values)]), cap)


def free_width(widths: Sequence[int], free_columns: int) -> int:
    """The columns left for ``free_columns`` more columns in a table with ``widths``."""
    used = len(INDENT) + sum(widths) + len(GAP) * (len(widths) + free_columns - 1)
    return WIDTH - used


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[int],
          right: frozenset[int] = frozenset()) -> list[str]:
    """A header, a rule and the rows; columns listed in ``right`` are right-aligned."""
    total = len(INDENT) + sum(widths) + len(GAP) * (len(widths) - 1)
    if total > WIDTH:
        raise ValueError(f"table is {total} columns wide, more than {WIDTH}")
    lines = _row(headers, widths, right)
    lines.append(INDENT + GAP.join("-" * width for width in widths))
    for row in rows:
        lines.extend(_row(row, widths, right))
    return lines


def _row(cells: Sequence[object], widths: Sequence[int], right: frozenset[int]) -> list[str]:
    wrapped = [wrap(cell, width) for cell, width in zip(cells, widths, strict=True)]
    lines = []
    for parts in zip_longest(*wrapped, fillvalue=""):
        padded = [part.rjust(width) if column in right else part.ljust(width)
                  for column, (part, width) in enumerate(zip(parts, widths, strict=True))]
        lines.append((INDENT + GAP.join(padded)).rstrip())
    return lines
