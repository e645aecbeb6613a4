"""Copybook text into tokens that know their line and column.

Fixed-format copybooks keep a sequence area in columns 1-6, an indicator in column 7
(``*`` and ``/`` comment the line, ``-`` continues a literal, ``D`` marks a debugging line)
and an identification area in columns 73-80; all of that is dropped here so the parser only
sees code. Free-format text (code starting anywhere else, column 7 or column 1) is recognised
and kept whole, but for comments: ``*>`` anywhere, and lines starting with ``*`` or ``/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mfpipe.errors import CopybookSyntaxError

_INDICATORS = frozenset(" *-/Dd")
# A comma or semicolon separates only when a space follows it: PIC ZZZ,ZZ9.99 keeps its comma.
_TOKEN = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|(?:[^\s,;'"]|[,;](?=\S))+""")


@dataclass(frozen=True, slots=True)
class Token:
    """One word or literal of a copybook; ``text`` of a literal keeps its quotes."""

    text: str
    line: int
    column: int  # 1-based, in the original line after tab expansion

    @property
    def is_literal(self) -> bool:
        return self.text[:1] in ("'", '"')

    @property
    def upper(self) -> str:
        return self.text if self.is_literal else self.text.upper()


def _is_fixed_format(lines: list[str]) -> bool:
    """Fixed format unless a code line has something other than an indicator in column 7."""
    for line in lines:
        if line.strip() and len(line) > 6 and line[6] not in _INDICATORS:
            return False
    return True


def _code_lines(text: str) -> list[tuple[int, int, str]]:
    """(line number, column of the first kept character, code) for each line holding code."""
    lines = [raw.expandtabs(8).rstrip("\r\n") for raw in text.splitlines()]
    fixed = _is_fixed_format(lines)
    kept: list[tuple[int, int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not fixed:
            # no entry starts with '*' or '/': such a line is a comment, whether written as
            # '*>' or as a fixed-format comment shifted out of column 7
            if not line.lstrip().startswith(("*", "/")):
                kept.append((number, 1, line.split("*>")[0]))
            continue
        indicator = line[6:7]
        if indicator in ("*", "/") or indicator in ("D", "d"):
            continue
        code = line[7:72]
        if indicator == "-" and kept:
            kept[-1] = _continue(kept[-1], code)
        else:
            kept.append((number, 8, code))
    return kept


def _continue(previous: tuple[int, int, str], code: str) -> tuple[int, int, str]:
    """Join a continuation line onto the line before it.

    An open literal runs to column 72 of the line before and resumes after the first quote
    of the continuation line; a word split across lines is joined without a space.
    """
    number, column, text = previous
    stripped = code.lstrip()
    if stripped[:1] in ("'", '"') and _open_quote(text):
        return number, column, text.ljust(65) + stripped[1:]
    return number, column, text.rstrip() + stripped


def _open_quote(text: str) -> bool:
    quote = ""
    for char in text:
        if quote and char == quote:
            quote = ""
        elif not quote and char in ("'", '"'):
            quote = char
    return bool(quote)


def tokenize(text: str, path: str = "<copybook>") -> list[list[Token]]:
    """Split a copybook into statements (lists of tokens), each ended by a period."""
    statements: list[list[Token]] = []
    current: list[Token] = []
    for number, first_column, code in _code_lines(text):
        for match in _TOKEN.finditer(code):
            word = match.group()
            column = first_column + match.start()
            if word[:1] in ("'", '"') and (len(word) < 2 or word[-1] != word[0]):
                raise CopybookSyntaxError(path, number, column, "unterminated literal")
            ends = word.endswith(".")  # a literal always ends with its quote
            if ends:
                word = word[:-1]
            if word:
                current.append(Token(word, number, column))
            if ends:
                if current:
                    statements.append(current)
                current = []
    if current:
        last = current[-1]
        raise CopybookSyntaxError(path, last.line, last.column + len(last.text),
                                  "expected a period at the end of the entry",
                                  field=current[1].text if len(current) > 1 else "")
    return statements
