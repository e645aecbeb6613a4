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
from mfpipe.codec.numbers import from_digits, to_arrow
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
        zero_as_fill="9" not in symbols)


def decode_edited(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode an edited numeric column by its own point and sign; anything else is rejected."""
    rules = _rules(field.picture)
    chars = charset(options.encoding).ascii[matrix]
    blank = (chars == _SPACE).all(axis=1)
    fill = (chars == _SPACE) | ((chars == _STAR) if rules.star else False)
    digit = (chars >= ord("0")) & (chars <= ord("9"))
    # fixed insertions hold their symbol, or fill while no digit has printed to their left
    started = np.cumsum(digit & ~rules.fixed, axis=1) > 0
    fixed_bad = (rules.fixed & (chars != rules.fixed_char) & ~(fill & ~started)).any(axis=1)
    chars, digit, fill = chars[:, ~rules.fixed], digit[:, ~rules.fixed], fill[:, ~rules.fixed]
    digits, negative, bad = _read(chars, digit, rules, field.scale)
    bad |= fixed_bad
    value = from_digits(digits, negative)
    blank_is_zero = field.blank_when_zero or rules.zero_as_fill
    filled_zero = rules.zero_as_fill & (fill | (chars == _POINT) | (chars == _COMMA)).all(axis=1)
    bad &= ~(blank | filled_zero)
    null = blank if not blank_is_zero and options.spaces_numeric == "null" else None
    reasons = merge_reasons((bad, Reason.BAD_EDITED),
                            (blank & (null is None) & (not blank_is_zero), Reason.SPACES))
    return DecodedColumn(to_arrow(value, field.arrow_type, field.scale, null), reasons)


def _read(chars: np.ndarray, digit: np.ndarray, rules: _Rules, scale: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(digit matrix aligned at the picture's scale, negative, invalid) of de-edited text."""
    n, width = chars.shape
    point = chars == _POINT
    body = digit | point
    position = np.arange(width)
    first = np.where(body.any(axis=1), body.argmax(axis=1), width)[:, None]
    last = np.where(body.any(axis=1), width - 1 - body[:, ::-1].argmax(axis=1), -1)[:, None]
    prefix, suffix = position < first, position > last
    in_body = ~prefix & ~suffix
    leading_ok = (chars == _SPACE) | np.isin(chars, list(rules.leading))
    sign_char = (chars == _PLUS) | (chars == _MINUS)
    credit = _pairs(chars, rules.credit_debit)
    trailing_ok = (chars == _SPACE) | np.isin(chars, list(rules.trailing_sign)) | credit
    comma_ok = rules.comma & (chars == _COMMA) & _between_digits(digit)
    bad = (prefix & ~leading_ok).any(axis=1) | (suffix & ~trailing_ok).any(axis=1)
    bad |= (in_body & ~(body | comma_ok)).any(axis=1)
    bad |= ((prefix | suffix) & sign_char).sum(axis=1) + credit.sum(axis=1) // 2 > 1
    bad |= (prefix & (chars == _DOLLAR)).sum(axis=1) > 1
    # a picture that prints a point needs it: without one the scale would be a guess
    bad |= ~digit.any(axis=1) | (point.sum(axis=1) != (1 if rules.point else 0))
    # digits right of each digit, and decimals: the digits right of the record's point
    right = np.cumsum(digit[:, ::-1], axis=1)[:, ::-1] - digit
    has_point = point.any(axis=1)
    decimals = np.where(has_point, (digit & (position > point.argmax(axis=1)[:, None])).sum(1),
                        scale)
    bad |= (decimals > max(scale, 0)) | (digit.sum(axis=1) - decimals > rules.integer_digits)
    total = rules.integer_digits + max(scale, 0)
    exponent = right + (max(scale, 0) - decimals)[:, None]
    keep = digit & ~bad[:, None]
    rows, cols = np.nonzero(keep)
    aligned = np.zeros((n, max(total, 1)), dtype=np.int64)
    aligned[rows, total - 1 - exponent[rows, cols]] = chars[rows, cols] - ord("0")
    negative = ((prefix | suffix) & (chars == _MINUS)).any(axis=1) | (credit.sum(axis=1) > 0)
    return aligned, negative & ~bad, bad


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
