"""Zoned decimal (DISPLAY numerics): digits one per byte, the sign in a zone or a separate byte.

EBCDIC digits are F0-F9; the sign byte's zone is C/A/E (plus), D/B (minus) or F (unsigned).
ASCII files that went through a text transfer carry the overpunch as ``{ A-I`` (+0..+9) and
``} J-R`` (-0..-9); Micro Focus writes ``p-y`` for -0..-9. Both families are 256-entry tables.

Fields of up to 16 bytes with a trailing (or no) overpunched sign, nearly all of them, take a
fast path of 64-bit word arithmetic (:mod:`mfpipe.codec.words`); the rest take the general path
of table lookups per byte. Both give the same values and the same reject reasons.
"""

from __future__ import annotations

import functools

import numpy as np

from mfpipe.codec.charsets import Charset, charset
from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.numbers import Unscaled, from_digits, to_arrow
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.codec.words import (WORD_BYTES, bad_digit_bytes, digits_value, negate_where,
                                read_word, repeated)
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
    if field.sign_position in (SignPosition.TRAILING, SignPosition.NONE) and \
            1 <= matrix.shape[1] <= 2 * WORD_BYTES:
        return _decode_zoned_words(matrix, field, options, cs)
    return decode_zoned_bytes(matrix, field, options)


def decode_zoned_bytes(matrix: np.ndarray, field: Field, options: DecodeOptions
                       ) -> DecodedColumn:
    """The general path, any width and sign position: table lookups on every byte."""
    cs = charset(options.encoding)
    digit_table, sign_digit, sign_kind = zoned_tables(cs.ebcdic)
    digits, sign_bad, negative, strict_bad = _split_sign(matrix, field.sign_position, cs,
                                                         sign_digit, sign_kind, digit_table)
    spaces = (matrix == cs.space).all(axis=1)
    digit_bad = (digits == INVALID).any(axis=1)
    value = from_digits(np.where(digits == INVALID, 0, digits), negative)
    return _column(value, spaces, (sign_bad, digit_bad, strict_bad, negative), field, options)


def _decode_zoned_words(matrix: np.ndarray, field: Field, options: DecodeOptions, cs: Charset
                        ) -> DecodedColumn:
    """The fast path for a trailing (or no) overpunched sign and up to 16 bytes: the last 8
    bytes and the bytes before them are read as two 64-bit words per record."""
    width = matrix.shape[1]
    low_size = min(width, WORD_BYTES)
    high_size = width - low_size
    zone = 0xF0 if cs.ebcdic else 0x30
    low = read_word(matrix, high_size, low_size)
    sign = (low & np.uint64(0xFF)).astype(np.uint8)
    spaces = low == repeated(cs.space, low_size)
    low ^= repeated(zone, low_size)  # digit bytes become 0-9, anything else is above 9
    low >>= np.uint64(8)  # the sign byte is read by _sign_byte
    digit_bad = bad_digit_bytes(low, low_size - 1)
    value = digits_value(low, low_size - 1)  # in place, after the check
    if high_size:
        high = read_word(matrix, 0, high_size)
        spaces &= high == repeated(cs.space, high_size)
        high ^= repeated(zone, high_size)
        digit_bad |= bad_digit_bytes(high, high_size)
        high = digits_value(high, high_size)
        high *= np.uint64(10 ** (low_size - 1))
        value += high
    sign_digit, sign_bad, negative, strict_bad = _sign_byte(sign, cs.ebcdic)
    value *= np.uint64(10)
    value += sign_digit
    low_value = value.view(np.int64)  # at most 16 digits: below 2**63
    negate_where(low_value, negative)
    return _column(Unscaled(low_value), spaces, (sign_bad, digit_bad, strict_bad, negative),
                   field, options)


def _sign_byte(sign: np.ndarray, ebcdic: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(digit, invalid, negative, loose) of overpunched sign bytes, as in ``zoned_tables``."""
    if ebcdic:  # zone A-F with a digit 0-9; arithmetic on the nibbles beats a table lookup
        zone, digit = sign >> 4, sign & 0xF
        invalid = (digit > 9) | (zone < 0xA)
        negative = (zone == 0xB) | (zone == 0xD)
        return digit, invalid, negative, (zone == 0xA) | (zone == 0xB) | (zone == 0xE)
    _, sign_digit, sign_kind = zoned_tables(False)
    kind = sign_kind[sign]
    return (sign_digit[sign], kind == 0, (kind == MINUS) | (kind == LOOSE_MINUS),
            (kind == LOOSE_PLUS) | (kind == LOOSE_MINUS))


def _column(value: Unscaled, spaces: np.ndarray,
            bad: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], field: Field,
            options: DecodeOptions) -> DecodedColumn:
    """Reasons (in their order of precedence), NULLs and the Arrow array of a zoned column;
    ``bad`` is (invalid sign, invalid digit, loose sign, negative)."""
    sign_bad, digit_bad, strict_bad, negative = bad
    filled = ~spaces
    null = spaces if options.spaces_numeric == "null" and not field.blank_when_zero else None
    # masks that an option or the PIC rules out are left out, not and-ed with a Python bool
    # (which NumPy does far more slowly than an and of two arrays)
    parts = []
    if options.spaces_numeric == "reject" and not field.blank_when_zero:
        parts.append((spaces, Reason.SPACES))
    parts.append((sign_bad & filled, Reason.ZONED_SIGN))  # first: a bad sign byte is no digit
    parts.append((digit_bad & filled, Reason.ZONED_DIGIT))
    if options.strict_signs:
        parts.append((strict_bad & filled, Reason.STRICT_SIGN))
    if not field.signed:
        parts.append((negative & filled, Reason.NEGATIVE_UNSIGNED))
    reasons = merge_reasons(*parts)
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
