"""Copybook statements into a tree of items (groups and elementary items), clause by clause.

The parser only records what each entry says; sizes, offsets, OCCURS expansion and naming are
the passes of :mod:`mfpipe.layout.passes`. Level 66 and 88 entries attach to the record and
the preceding item; they never become items themselves.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass, field, replace

from mfpipe.errors import CopybookSyntaxError
from mfpipe.layout.picture import Picture, parse_picture
from mfpipe.layout.source import Token, tokenize
from mfpipe.layout.types import Condition, SignPosition, Usage

_USAGES = {
    "DISPLAY": Usage.DISPLAY, "COMP": Usage.COMP, "COMPUTATIONAL": Usage.COMP,
    "COMP-4": Usage.COMP, "COMPUTATIONAL-4": Usage.COMP, "BINARY": Usage.COMP,
    "COMP-5": Usage.COMP_5, "COMPUTATIONAL-5": Usage.COMP_5,
    "COMP-3U": Usage.COMP_3U, "COMP-3": Usage.COMP_3, "COMPUTATIONAL-3": Usage.COMP_3,
    "PACKED-DECIMAL": Usage.COMP_3,
    "COMP-1": Usage.COMP_1, "COMPUTATIONAL-1": Usage.COMP_1,
    "COMP-2": Usage.COMP_2, "COMPUTATIONAL-2": Usage.COMP_2,
    "NATIONAL": Usage.NATIONAL, "INDEX": Usage.COMP, "POINTER": Usage.COMP,
}
_CLAUSES = {
    "PIC", "PICTURE", "USAGE", "REDEFINES", "OCCURS", "VALUE", "VALUES", "SIGN", "LEADING",
    "TRAILING", "SYNC", "SYNCHRONIZED", "JUST", "JUSTIFIED", "BLANK", "GLOBAL", "EXTERNAL",
    "RENAMES", "INDEXED", "ASCENDING", "DESCENDING", "DEPENDING", *_USAGES,
}
_NOISE = {"IS", "ARE", "ON", "TIMES", "BY", "KEY", "WHEN", "CHARACTER", "LEFT", "RIGHT"}


@dataclass(frozen=True, slots=True)
class Item:
    """One copybook entry (level 01-49 or 77) and, for a group, its children."""

    level: int
    name: str
    line: int
    column: int
    picture: Picture | None = None
    usage: Usage | None = None
    sign: SignPosition | None = None
    occurs: int = 1
    occurs_min: int = 1
    depending_on: str | None = None
    redefines: str | None = None
    sync: bool = False
    justified: bool = False
    blank_when_zero: bool = False
    is_pointer: bool = False
    conditions: tuple[Condition, ...] = ()
    children: tuple[Item, ...] = ()
    offset: int = 0  # set by passes.place
    size: int = 0  # bytes of one occurrence, set by passes.place

    @property
    def is_filler(self) -> bool:
        return self.name.upper() == "FILLER"

    @property
    def is_group(self) -> bool:
        return bool(self.children) or (self.picture is None and self.usage not in
                                        (Usage.COMP_1, Usage.COMP_2) and not self.is_pointer)


@dataclass
class _Record:
    """A 01/77 tree while it is being built, with its 66-level renames."""

    root: Item
    renames: dict[str, tuple[str, str]] = field(default_factory=dict)


class _Clauses:
    """A cursor over one statement's tokens that reports errors at the right line and column."""

    def __init__(self, tokens: list[Token], path: str, name: str,
                 anchor: Token | None = None) -> None:
        self.tokens, self.path, self.name, self.i = tokens, path, name, 0
        self.anchor = anchor or Token("", 1, 1)  # where an entry with no clause is

    def error(self, message: str, token: Token | None = None) -> CopybookSyntaxError:
        if token is None:
            at = self.tokens[self.i:self.i + 1] or self.tokens[-1:] or [self.anchor]
            token = at[0]
        return CopybookSyntaxError(self.path, token.line, token.column, message, field=self.name)

    def peek(self) -> str:
        return self.tokens[self.i].upper if self.i < len(self.tokens) else ""

    def take(self, expected: str = "a word") -> Token:
        if self.i >= len(self.tokens):
            raise self.error(f"expected {expected} at the end of the entry")
        self.i += 1
        return self.tokens[self.i - 1]

    def skip_noise(self) -> None:
        while self.peek() in _NOISE:
            self.i += 1

    def integer(self, what: str) -> int:
        token = self.take(what)
        if not token.text.isdigit():
            raise self.error(f"expected {what}, found {token.text!r}", token)
        return int(token.text)

    def names(self) -> list[str]:
        """Data names up to the next clause keyword (KEY IS a b, INDEXED BY i j)."""
        found = []
        while self.peek() and self.peek() not in _CLAUSES:
            token = self.take()
            if token.upper not in _NOISE:
                found.append(token.text)
        return found


def parse_copybook(text: str, path: str = "<copybook>") -> list[_Record]:
    """Parse copybook text into record trees, in declaration order."""
    records: list[_Record] = []
    stack: list[tuple[int, list[Item], Item]] = []  # (level, children so far, item)
    last: list[Item | None] = [None]

    def close_to(level: int) -> None:
        while stack and stack[-1][0] >= level:
            _, children, item = stack.pop()
            done = replace(item, children=tuple(children))
            if stack:
                stack[-1][1].append(done)
            else:
                records[-1].root = done

    for tokens in tokenize(text, path):
        level_token = tokens[0]
        if not level_token.text.isdigit():
            raise CopybookSyntaxError(path, level_token.line, level_token.column,
                                      f"expected a level number, found {level_token.text!r}")
        level = int(level_token.text)
        if level == 88:
            _attach_condition(tokens, path, stack, last)
            continue
        if level == 66:
            if not records:
                raise CopybookSyntaxError(path, level_token.line, level_token.column,
                                          "level 66 before any 01 record")
            close_to(2)
            name, renamed = _parse_renames(tokens, path)
            records[-1].renames[name] = renamed
            continue
        if not (1 <= level <= 49 or level == 77):
            raise CopybookSyntaxError(path, level_token.line, level_token.column,
                                      f"level {level} is not 01-49, 66, 77 or 88")
        item = _parse_entry(tokens, path, level)
        if level in (1, 77):
            close_to(0)
            records.append(_Record(item))
        elif not stack:
            raise CopybookSyntaxError(path, level_token.line, level_token.column,
                                      f"level {level} item {item.name} outside any 01 record",
                                      field=item.name)
        else:
            close_to(level)
            if not stack:
                raise CopybookSyntaxError(path, level_token.line, level_token.column,
                                          f"level {level} cannot follow level 01's siblings",
                                          field=item.name)
        stack.append((level, [], item))
        last[0] = item
    close_to(0)
    if not records:
        raise CopybookSyntaxError(path, 1, 1, "no 01 or 77 record found")
    return records


def _parse_entry(tokens: list[Token], path: str, level: int) -> Item:
    rest = tokens[1:]
    if rest and rest[0].upper not in _CLAUSES:
        name = rest[0].text.upper()
        rest = rest[1:]
    else:
        name = "FILLER"
    cursor = _Clauses(rest, path, name, tokens[0])
    attrs: dict[str, Any] = {}
    while cursor.peek():
        _parse_clause(cursor, attrs)
    if attrs.get("usage") in (Usage.COMP_1, Usage.COMP_2) and "picture" in attrs:
        raise CopybookSyntaxError(path, tokens[0].line, tokens[0].column,
                                  "COMP-1 and COMP-2 take no PIC", field=name)
    return Item(level=level, name=name, line=tokens[0].line, column=tokens[0].column, **attrs)


def _parse_clause(cursor: _Clauses, attrs: dict[str, object]) -> None:
    token = cursor.take()
    word = token.upper
    if word in ("PIC", "PICTURE"):
        cursor.skip_noise()
        pic = cursor.take("a picture string")
        try:
            attrs["picture"] = parse_picture(pic.text)
        except ValueError as exc:
            raise cursor.error(str(exc), pic) from None
    elif word == "USAGE":
        cursor.skip_noise()
        usage = cursor.take("a usage")
        if usage.upper not in _USAGES:
            raise cursor.error(f"unknown usage {usage.text!r}", usage)
        _set_usage(attrs, usage.upper)
    elif word in _USAGES:
        _set_usage(attrs, word)
    elif word == "REDEFINES":
        attrs["redefines"] = cursor.take("the name of the redefined item").text.upper()
    elif word == "OCCURS":
        _parse_occurs(cursor, attrs)
    elif word in ("VALUE", "VALUES"):
        _parse_values(cursor)
    elif word in ("SIGN", "LEADING", "TRAILING"):
        _parse_sign(cursor, word, attrs)
    elif word in ("SYNC", "SYNCHRONIZED"):
        attrs["sync"] = True
        cursor.skip_noise()
    elif word in ("JUST", "JUSTIFIED"):
        attrs["justified"] = True
        cursor.skip_noise()
    elif word == "BLANK":
        cursor.skip_noise()
        zero = cursor.take("ZERO")
        if zero.upper not in ("ZERO", "ZEROS", "ZEROES"):
            raise cursor.error(f"expected ZERO after BLANK WHEN, found {zero.text!r}", zero)
        attrs["blank_when_zero"] = True
    elif word in ("GLOBAL", "EXTERNAL"):
        pass
    elif word in ("INDEXED", "ASCENDING", "DESCENDING"):
        cursor.names()
    else:
        raise cursor.error(f"unexpected {token.text!r}; expected a clause such as PIC, USAGE, "
                           "OCCURS, REDEFINES, VALUE or a period", token)


def _set_usage(attrs: dict[str, object], word: str) -> None:
    attrs["usage"] = _USAGES[word]
    attrs["is_pointer"] = word in ("INDEX", "POINTER")


def _parse_occurs(cursor: _Clauses, attrs: dict[str, object]) -> None:
    keyword = cursor.tokens[cursor.i - 1]
    low = high = cursor.integer("the OCCURS count")
    ranged = cursor.peek() == "TO"
    if ranged:
        cursor.take()
        high = cursor.integer("the OCCURS maximum")
    cursor.skip_noise()
    if cursor.peek() == "DEPENDING":
        cursor.take()
        cursor.skip_noise()
        attrs["depending_on"] = cursor.take("the DEPENDING ON field").text.upper()
        if not ranged:  # OCCURS n DEPENDING ON: IBM's minimum is then 1; 0 is read as well
            low = 0
    elif high != low:
        raise cursor.error("OCCURS m TO n needs DEPENDING ON", keyword)
    if high < low or high < 1:
        raise cursor.error(f"OCCURS {low} TO {high} is empty or reversed", keyword)
    attrs["occurs"], attrs["occurs_min"] = high, low


def _parse_values(cursor: _Clauses) -> list[tuple[str, str | None]]:
    """VALUE[S] [IS|ARE] lit [THRU lit] ...: returns (low, high or None) pairs."""
    cursor.skip_noise()
    values: list[tuple[str, str | None]] = []
    while cursor.peek() and (cursor.peek() not in _CLAUSES or cursor.tokens[cursor.i].is_literal):
        low = _literal(cursor.take("a literal"))
        high = None
        if cursor.peek() in ("THRU", "THROUGH"):
            cursor.take()
            high = _literal(cursor.take("the upper literal of THRU"))
        values.append((low, high))
    if not values:
        raise cursor.error("expected a literal after VALUE")
    return values


def _literal(token: Token) -> str:
    if token.is_literal:
        quote = token.text[0]
        return token.text[1:-1].replace(quote * 2, quote)
    return token.text.upper() if token.text.replace("-", "").isalpha() else token.text


def _parse_sign(cursor: _Clauses, word: str, attrs: dict[str, object]) -> None:
    if word == "SIGN":
        cursor.skip_noise()
        word = cursor.take("LEADING or TRAILING").upper
        if word not in ("LEADING", "TRAILING"):
            raise cursor.error(f"expected LEADING or TRAILING after SIGN, found {word!r}")
    separate = cursor.peek() == "SEPARATE"
    if separate:
        cursor.take()
        cursor.skip_noise()
    attrs["sign"] = SignPosition[word + ("_SEPARATE" if separate else "")]


def _attach_condition(tokens: list[Token], path: str, stack: list[tuple[int, list[Item], Item]],
                      last: list[Item | None]) -> None:
    """Level 88: keep the VALUEs on the item just before it (they become allowed-value rules)."""
    if last[0] is None or len(tokens) < 2:
        raise CopybookSyntaxError(path, tokens[0].line, tokens[0].column,
                                  "level 88 needs a name and a preceding item")
    cursor = _Clauses(tokens[2:], path, tokens[1].text.upper(), tokens[0])
    word = cursor.take("VALUE").upper
    if word not in ("VALUE", "VALUES"):
        raise cursor.error(f"expected VALUE in level 88 {tokens[1].text}, found {word!r}")
    pairs = _parse_values(cursor)
    if cursor.peek():
        raise cursor.error(f"unexpected {cursor.peek()!r} after the level 88 values")
    condition = Condition(cursor.name, tuple(lo for lo, hi in pairs if hi is None),
                          tuple((lo, hi) for lo, hi in pairs if hi is not None))
    owner = last[0]
    updated = replace(owner, conditions=owner.conditions + (condition,))
    level, children, item = stack[-1]
    if item is owner:
        stack[-1] = (level, children, updated)
    last[0] = updated


def _parse_renames(tokens: list[Token], path: str) -> tuple[str, tuple[str, str]]:
    cursor = _Clauses(tokens[2:], path, tokens[1].text.upper() if len(tokens) > 1 else "",
                      tokens[0])
    if cursor.take("RENAMES").upper != "RENAMES":
        raise cursor.error("expected RENAMES in a level 66 entry")
    first = cursor.take("the renamed item").text.upper()
    last = first
    if cursor.peek() in ("THRU", "THROUGH"):
        cursor.take()
        last = cursor.take("the last renamed item").text.upper()
    return cursor.name, (first, last)
