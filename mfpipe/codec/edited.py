"""Numeric-edited fields (``ZZZ,ZZ9.99-``, ``$$$,$$9.99CR``, ``99/99/99``) back into numbers.

One rule, for every picture: **de-edit by the value's own decimal point and sign, or reject.**
Producers other than COBOL often write ``789.09     `` into ``PIC 9(8).9(2)``, left-justified;
reading the bytes position by position would move the digits (78900900.00). So:

1. Simple insertion positions (``B``, ``0``, ``/``) are fixed: each must hold its symbol (or the
   fill character, left of the first digit) and is then dropped.
2. What remains reads as ``[fill, $, sign] digits[,digits][.digits] [sign | CR | DB]`` with
   leading and trailing spaces: a sign only where the picture has one (``+``/``-`` on the side
   the picture prints it, ``CR``/``DB`` only when it has them), ``$`` only with ``$``, ``*`` fill
   only with ``*``, ``,`` only between two digits and only with ``,``, at most one point and only
   when the picture prints one.
3. The value is the digits read at the record's own point, which must be there when the
   picture prints one: at most as many integer digits and decimals as the picture holds.
   Pictures with an implied point (``V``) print none, so their digits are right-aligned at the
   picture's scale.

Anything else (a space between digits, a letter, a minus in an unsigned picture, a second
point) is a BAD_EDITED reject: never a value whose digits moved.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mfpipe.codec.charsets import charset
from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.numbers import Unscaled, from_digits, to_arrow
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.layout import Field
from mfpipe.layout.picture import expand_picture

_FIXED_INSERTION = {"B": ord(" "), "0": ord("0"), "/": ord("/")}
_SPACE, _POINT, _COMMA, _STAR = ord(" "), ord("."), ord(","), ord("*")
_PLUS, _MINUS, _DOLLAR = ord("+"), ord("-"), ord("$")


@dataclass(frozen=True)
class _Rules:
    """What one edited picture can print, found once per picture."""

    fixed: np.ndarray  # bool per byte: a B, 0 or / insertion position
    fixed_char: np.ndarray  # the byte each fixed position prints (0 elsewhere)
    leading: frozenset[int]  # characters allowed left of the digits besides space
    trailing_sign: frozenset[int]  # '+'/'-' allowed right of the digits
    credit_debit: tuple[bytes, ...]  # b"CR", b"DB" when the picture has them
    comma: bool
    point: bool  # the picture prints a '.'
    integer_digits: int  # digit positions left of the point
    star: bool
    zero_as_fill: bool  # no '9' position: zero prints as fill characters only
    star_zero: np.ndarray  # what an all-'*' picture prints for zero: '*' but for the point
    tail: int  # printed positions right of the last digit position (a sign, CR or DB)
    # by a comma's rank from the right (1, 2, ...): the integer digits right of it in the
    # picture (3, 6, ... for ZZZ,ZZZ,ZZ9); -1 past the picture's commas
    comma_digits: np.ndarray


@functools.cache
def _rules(picture: str) -> _Rules:
    symbols = [s for s in expand_picture(picture) if s not in ("V", "P", "S")]
    printed = [s for s in symbols for _ in s]  # CR and DB print two bytes
    floating: set[str] = set()
    digit_at: list[bool] = []
    for s in symbols:
        digit_at.append(s in ("9", "Z", "*") or (s in ("+", "-", "$") and s in floating))
        if s in ("+", "-", "$"):
            floating.add(s)
    first_digit = digit_at.index(True) if True in digit_at else len(symbols)
    last_digit = len(digit_at) - 1 - digit_at[::-1].index(True) if True in digit_at else -1
    before, after = set(symbols[:first_digit + 1]), set(symbols[last_digit:])
    leading: set[int] = {_STAR} if "*" in symbols else set()
    leading |= {_DOLLAR} if "$" in symbols else set()
    trailing: set[int] = set()
    sign_symbols = {"+": {_PLUS, _MINUS}, "-": {_MINUS}}
    for side, allowed in ((before, leading), (after, trailing)):
        for symbol, chars in sign_symbols.items():
            if symbol in side:
                allowed |= chars
    raw = [s for s in expand_picture(picture) if s not in ("P", "S")]
    point_at = next((i for i, s in enumerate(raw) if s in (".", "V")), len(raw))
    integer_digits = sum(digit_at[:point_at - raw[:point_at].count("V")])
    return _Rules(
        fixed=np.array([c in _FIXED_INSERTION for c in printed], dtype=bool),
        fixed_char=np.array([_FIXED_INSERTION.get(c, 0) for c in printed], dtype=np.uint8),
        leading=frozenset(leading), trailing_sign=frozenset(trailing),
        credit_debit=tuple(s.encode() for s in ("CR", "DB") if s in symbols),
        comma="," in symbols, point="." in symbols,
        integer_digits=integer_digits, star="*" in symbols,
        zero_as_fill="9" not in symbols,
        star_zero=np.frombuffer("".join("." if s == "." else "*" for s in printed).encode(),
                                dtype=np.uint8),
        tail=sum(len(s) for s in symbols[last_digit + 1:] if s not in _FIXED_INSERTION),
        comma_digits=_comma_digits(symbols, digit_at))


def _comma_digits(symbols: list[str], digit_at: list[bool]) -> np.ndarray:
    """Integer digit positions right of each of the picture's commas, nearest the point
    first, as a table by rank (index 0 unused, -1 beyond the last comma)."""
    point_at = next((i for i, s in enumerate(symbols) if s in (".", "V")), len(symbols))
    counts = [sum(digit_at[i + 1:point_at]) for i, s in enumerate(symbols[:point_at])
              if s == ","]
    table = np.full(len(symbols) + 2, -1, dtype=np.int16)
    table[1:len(counts) + 1] = sorted(counts)
    return table


_DIGIT, _PT, _CM, _LEAD, _TRAIL, _SIGN, _MINUS_BIT, _DOLLAR_BIT = (1 << i for i in range(8))
_POWERS = 10 ** np.arange(19, dtype=np.int64)


@functools.cache
def _classes(picture: str) -> np.ndarray:
    """What each ASCII byte may be in a value of this picture, as bits (one lookup a byte)."""
    rules = _rules(picture)
    table = np.zeros(256, dtype=np.uint8)
    table[ord("0"):ord("9") + 1] |= _DIGIT
    table[_POINT] |= _PT
    table[_COMMA] |= _CM
    for char in (_SPACE, *rules.leading):
        table[char] |= _LEAD
    for char in (_SPACE, *rules.trailing_sign):
        table[char] |= _TRAIL
    table[_PLUS] |= _SIGN
    table[_MINUS] |= _SIGN | _MINUS_BIT
    table[_DOLLAR] |= _DOLLAR_BIT
    return table


def decode_edited(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode an edited numeric column by its own point and sign; anything else is rejected."""
    rules = _rules(field.picture)
    chars = charset(options.encoding).ascii[matrix]
    blank = (chars == _SPACE).all(axis=1)
    # '*' pictures print zero as '*' in every position but the point
    star_zero = (chars == rules.star_zero).all(axis=1) if rules.zero_as_fill and rules.star \
        else None
    fill = (chars == _SPACE) | ((chars == _STAR) if rules.star else False)
    fixed_bad = None
    if rules.fixed.any():
        digit = (chars >= ord("0")) & (chars <= ord("9"))
        # fixed insertions hold their symbol, or fill while no digit has printed to their left
        started = np.cumsum(digit & ~rules.fixed, axis=1, dtype=np.int16) > 0
        fixed_bad = (rules.fixed & (chars != rules.fixed_char) & ~(fill & ~started)).any(axis=1)
        chars, fill = chars[:, ~rules.fixed], fill[:, ~rules.fixed]
    value, negative, bad = _read(chars, _classes(field.picture), rules, field.scale)
    if fixed_bad is not None:
        bad |= fixed_bad
    blank_is_zero = field.blank_when_zero or rules.zero_as_fill
    bad &= ~blank if star_zero is None else ~(blank | star_zero)
    null = blank if not blank_is_zero and options.spaces_numeric == "null" else None
    reasons = merge_reasons((bad, Reason.BAD_EDITED),
                            (blank & (null is None) & (not blank_is_zero), Reason.SPACES))
    return DecodedColumn(to_arrow(value, field.arrow_type, field.scale, null), reasons)


def _read(chars: np.ndarray, classes: np.ndarray, rules: _Rules, scale: int
          ) -> tuple[Unscaled, np.ndarray, np.ndarray]:
    """(value at the picture's scale, negative, invalid) of de-edited text.

    Each row splits at its first digit or point and its last: the prefix may hold fill, ``$``
    and a leading sign, the body digits, one point and commas between digits, the suffix a
    trailing sign or CR/DB. Fields are short, so every step is a pass over [rows, width]."""
    n, width = chars.shape
    kind = classes[chars]
    digit = (kind & _DIGIT) != 0
    body = (kind & (_DIGIT | _PT)) != 0
    some = body.any(axis=1)
    first = np.where(some, body.argmax(axis=1), width)[:, None]
    last = np.where(some, width - 1 - body[:, ::-1].argmax(axis=1), -1)[:, None]
    position = np.arange(width)
    region = (position >= first).astype(np.uint8) + (position > last)  # 0 prefix 1 body 2 suffix
    allowed = np.array([_LEAD, _DIGIT | _PT, _TRAIL], dtype=np.uint8)[region]
    ok = (kind & allowed) != 0
    credit = _pairs(chars, rules.credit_debit)
    if rules.comma:
        ok |= (region == 1) & ((kind & _CM) != 0) & _between_digits(digit)
    ok |= credit & (region == 2)
    outside = region != 1
    signs = ((kind & _SIGN) != 0) & outside
    bad = ~ok.all(axis=1) | ~digit.any(axis=1)
    bad |= signs.sum(axis=1, dtype=np.int16) + credit.sum(axis=1, dtype=np.int16) // 2 > 1
    bad |= ((kind & _DOLLAR_BIT) != 0).sum(axis=1, dtype=np.int16) > 1
    point = (kind & _PT) != 0
    points = point.sum(axis=1, dtype=np.int16)
    bad |= points != (1 if rules.point else 0)  # a point the picture prints must be there
    if not rules.point and scale > 0:  # an implied point: the digits end where the picture's
        bad |= last[:, 0] != width - 1 - rules.tail  # do, or they would be read shifted
    # digits right of each digit; decimals: the digits right of the record's point
    right = np.cumsum(digit[:, ::-1], axis=1, dtype=np.int16)[:, ::-1] - digit
    decimals = np.where(points > 0, (digit & (position > point.argmax(axis=1)[:, None])).sum(
        axis=1, dtype=np.int16), scale)
    places = max(scale, 0)
    bad |= (decimals > places) | (digit.sum(axis=1, dtype=np.int16) - decimals
                                  > rules.integer_digits)
    if rules.comma:  # each comma groups as the picture's does: "12,3456" is no ZZ,ZZ9 value
        comma = (kind & _CM) != 0
        rank = np.cumsum(comma[:, ::-1], axis=1, dtype=np.int16)[:, ::-1]
        want = rules.comma_digits[np.minimum(rank, len(rules.comma_digits) - 1)]
        bad |= (comma & (right - decimals[:, None] != want)).any(axis=1)
    exponent = right + (places - decimals)[:, None]
    negative = ~bad & ((((kind & _MINUS_BIT) != 0) & outside).any(axis=1)
                       | credit.any(axis=1))
    keep = digit & ~bad[:, None]
    values = np.where(keep, chars - np.uint8(ord("0")), 0)
    total = rules.integer_digits + places
    if total <= 18:  # one multiply-add pass: the digit times its power of ten
        unscaled = (values * _POWERS[np.where(keep, exponent, 0)]).sum(axis=1)
        np.negative(unscaled, out=unscaled, where=negative)
        return Unscaled(unscaled), negative, bad
    rows, cols = np.nonzero(keep)
    aligned = np.zeros((n, total), dtype=np.int64)
    aligned[rows, total - 1 - exponent[rows, cols]] = values[rows, cols]
    return from_digits(aligned, negative), negative, bad


def _pairs(chars: np.ndarray, words: tuple[bytes, ...]) -> np.ndarray:
    """Both bytes of every ``CR``/``DB`` in the rows."""
    found = np.zeros(chars.shape, dtype=bool)
    for word in words:
        at = (chars[:, :-1] == word[0]) & (chars[:, 1:] == word[1])
        found[:, :-1] |= at
        found[:, 1:] |= at
    return found


def _between_digits(digit: np.ndarray) -> np.ndarray:
    """Positions with a digit on both sides."""
    out = np.zeros(digit.shape, dtype=bool)
    out[:, 1:-1] = digit[:, :-2] & digit[:, 2:]
    return out
