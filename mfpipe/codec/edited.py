"""Numeric-edited fields (``ZZZ,ZZ9.99-``, ``$$$,$$9.99CR``, ``99/99/99``) back into numbers.

The picture fixes which positions can hold digits and where the point is, so each position
gets a weight once per field; a record's value is the sum of its digits times their weights.
Suppressed positions hold spaces, ``*`` or a floating insertion symbol and count as zero;
the sign comes from ``-``, ``CR`` or ``DB`` wherever the picture allows one.
"""

from __future__ import annotations

import functools

import numpy as np

from mfpipe.codec.charsets import charset
from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.numbers import from_digits, to_arrow
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.layout import Field
from mfpipe.layout.picture import expand_picture

_PUNCTUATION = np.frombuffer(b" *$+-,./", dtype=np.uint8)  # what suppression and insertion print
_SIGN_LETTERS = np.frombuffer(b"CRDB", dtype=np.uint8)


@functools.cache
def _positions(picture: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is a digit position, may hold a minus/CR/DB sign, may hold a letter) per byte."""
    digit, sign, letter, printed = [], [], [], []
    floating: set[str] = set()
    for symbol in expand_picture(picture):
        if symbol in ("V", "P", "S"):
            continue
        is_digit = symbol in ("9", "Z", "*")
        if symbol in ("+", "-", "$"):
            is_digit = symbol in floating
            floating.add(symbol)
        width = 2 if symbol in ("CR", "DB") else 1
        digit += [is_digit] * width
        sign += [symbol in ("+", "-", "CR", "DB")] * width
        letter += [symbol in ("CR", "DB")] * width
        printed += [symbol] * width
    for symbol in ("+", "-"):  # a floating sign prints left of the first digit, which may
        at = [i for i, s in enumerate(printed) if s == symbol]  # be a suppressed ',' or '.'
        if len(at) > 1:
            sign[at[0]:at[-1] + 1] = [True] * (at[-1] + 1 - at[0])
    return np.array(digit), np.array(sign), np.array(letter)


def decode_edited(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode an edited numeric column; characters the picture cannot produce are rejected."""
    chars = charset(options.encoding).ascii[matrix]
    is_digit, may_sign, may_letter = _positions(field.picture)
    digits = chars.astype(np.int16) - ord("0")
    numeric = (digits >= 0) & (digits <= 9)
    ok = ((numeric & is_digit)  # a digit where the picture has one
          | (chars == ord("0"))  # the 0 insertion symbol
          | np.isin(chars, _PUNCTUATION)
          | (np.isin(chars, _SIGN_LETTERS) & may_letter))
    bad = ~ok
    minus = ((chars == ord("-")) | (chars == ord("C")) | (chars == ord("D"))) & may_sign
    negative = minus.any(axis=1)
    value = from_digits(np.where(numeric & is_digit, digits, 0)[:, is_digit], negative)
    blank = (chars == ord(" ")).all(axis=1)
    # BLANK WHEN ZERO, or a picture without a 9 (ZZZZ), prints zero as spaces
    blank_is_zero = field.blank_when_zero or "9" not in expand_picture(field.picture)
    null = blank if not blank_is_zero and options.spaces_numeric == "null" else None
    reasons = merge_reasons((bad.any(axis=1), Reason.BAD_EDITED),
                            (blank & (null is None) & (not blank_is_zero), Reason.SPACES))
    return DecodedColumn(to_arrow(value, field.arrow_type, field.scale, null), reasons)
