"""Zoned decimal (DISPLAY numerics): digits one per byte, the sign in a zone or a separate byte.

EBCDIC digits are F0-F9; the sign byte's zone is C/A/E (plus), D/B (minus) or F (unsigned).
ASCII files that went through a text transfer carry the overpunch as ``{ A-I`` (+0..+9) and
``} J-R`` (-0..-9); Micro Focus writes ``p-y`` for -0..-9. Both families are 256-entry tables.
"""

from __future__ import annotations

import functools

import numpy as np

from mfpipe.codec.charsets import Charset, charset
from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.numbers import from_digits, to_arrow
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.layout import Field, SignPosition

INVALID = 255
PLUS, MINUS, UNSIGNED, LOOSE_PLUS, LOOSE_MINUS = 1, 2, 3, 4, 5


@functools.cache
def zoned_tables(ebcdic: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(digit of a plain byte, digit of a sign byte, sign kind of a sign byte), each [256]."""
    digit = np.full(256, INVALID, dtype=np.uint8)
    sign_digit = np.full(256, INVALID, dtype=np.uint8)
    sign_kind = np.zeros(256, dtype=np.uint8)
    if ebcdic:
        for zone, kind in ((0xF, UNSIGNED), (0xC, PLUS), (0xD, MINUS), (0xA, LOOSE_PLUS),
                           (0xE, LOOSE_PLUS), (0xB, LOOSE_MINUS)):
            codes = (zone << 4) + np.arange(10)
            sign_digit[codes], sign_kind[codes] = np.arange(10), kind
        digit[0xF0:0xFA] = np.arange(10)
    else:
        digit[0x30:0x3A] = np.arange(10)
        for chars, kind in (("0123456789", UNSIGNED), ("{ABCDEFGHI", PLUS), ("}JKLMNOPQR", MINUS),
                            ("pqrstuvwxy", LOOSE_MINUS)):
            codes = np.frombuffer(chars.encode("ascii"), dtype=np.uint8)
            sign_digit[codes], sign_kind[codes] = np.arange(10), kind
    return digit, sign_digit, sign_kind


def decode_zoned(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode a [records, bytes] DISPLAY numeric column, validating every byte."""
    cs = charset(options.encoding)
    digit_table, sign_digit, sign_kind = zoned_tables(cs.ebcdic)
    position = field.sign_position
    digits, sign_bad, negative, strict_bad = _split_sign(matrix, position, cs, sign_digit,
                                                         sign_kind, digit_table)
    spaces = (matrix == cs.space).all(axis=1)
    digit_bad = (digits == INVALID).any(axis=1)
    value = from_digits(np.where(digits == INVALID, 0, digits), negative)
    null = spaces if options.spaces_numeric == "null" and not field.blank_when_zero else None
    reasons = merge_reasons(
        (spaces & (options.spaces_numeric == "reject") & (not field.blank_when_zero), Reason.SPACES),
        (sign_bad & ~spaces, Reason.ZONED_SIGN),  # first: a bad sign byte is no digit either
        (digit_bad & ~spaces, Reason.ZONED_DIGIT),
        (strict_bad & options.strict_signs & ~spaces, Reason.STRICT_SIGN),
        (negative & (not field.signed) & ~spaces, Reason.NEGATIVE_UNSIGNED),
    )
    if field.blank_when_zero and spaces.any():
        value = value._replace(low=np.where(spaces, 0, value.low))
    return DecodedColumn(to_arrow(value, field.arrow_type, field.scale, null), reasons)


def _split_sign(matrix: np.ndarray, position: SignPosition, cs: Charset, sign_digit: np.ndarray,
                sign_kind: np.ndarray, digit_table: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits matrix, invalid-sign mask, negative mask and loose-sign mask for one sign style."""
    n = matrix.shape[0]
    if position in (SignPosition.LEADING_SEPARATE, SignPosition.TRAILING_SEPARATE):
        leading = position is SignPosition.LEADING_SEPARATE
        sign_byte = matrix[:, 0] if leading else matrix[:, -1]
        body = matrix[:, 1:] if leading else matrix[:, :-1]
        negative = sign_byte == cs.minus
        return (digit_table[body], ~negative & (sign_byte != cs.plus), negative,
                np.zeros(n, bool))
    # overpunched; an unsigned field still takes a C (plus) zone on its last byte
    sign_at = 0 if position is SignPosition.LEADING else -1
    digits = digit_table[matrix]
    sign_byte = matrix[:, sign_at]
    digits[:, sign_at] = sign_digit[sign_byte]
    kind = sign_kind[sign_byte]
    return (digits, kind == 0, np.isin(kind, (MINUS, LOOSE_MINUS)),
            np.isin(kind, (LOOSE_PLUS, LOOSE_MINUS)))
