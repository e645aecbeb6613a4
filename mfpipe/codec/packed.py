"""Packed decimal (COMP-3), decoded a whole column at a time.

Each byte but the last holds two digits; the last holds one digit and the sign nibble.
Fields of up to 8 bytes (15 digits, nearly all money fields) take the fast path: the field is
read as one 64-bit word per record and checked and converted with word arithmetic
(:mod:`mfpipe.codec.words`). Wider fields use the general path: a 256-entry table turns a byte
into its two-digit value (0-99), one ``take`` + multiply-add pass per byte position.
Sign nibbles (Principles of Operation): A C E F plus, B D minus; 0-9 invalid.
"""

from __future__ import annotations

import numpy as np

from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.numbers import Unscaled, accumulate, from_digits, to_arrow
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.codec.words import WORD_BYTES, bad_nibbles, bcd_value, negate_where, read_word
from mfpipe.layout import Field

_BYTES = np.arange(256)
_HIGH, _LOW = _BYTES >> 4, _BYTES & 0xF
PAIR_VALUE = (_HIGH * 10 + _LOW).astype(np.int64)  # the two digits of a byte as 0-99
PAIR_VALID = (_HIGH <= 9) & (_LOW <= 9)
SIGN_NEGATIVE = np.isin(_LOW, (0xB, 0xD))
SIGN_VALID = _LOW >= 0xA
SIGN_LOOSE = np.isin(_LOW, (0xA, 0xB, 0xE))  # valid, but refused under strict_signs


def decode_packed(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode a [records, bytes] COMP-3 column into exact integers or decimal128."""
    if matrix.shape[1] <= WORD_BYTES:  # up to 15 digits and the sign in one uint64
        return _decode_packed_word(matrix, field, options)
    return decode_packed_bytes(matrix, field, options)


def _decode_packed_word(matrix: np.ndarray, field: Field, options: DecodeOptions
                        ) -> DecodedColumn:
    """The fast path: one uint64 per record holds every nibble of the field."""
    width = matrix.shape[1]
    word = read_word(matrix, 0, width)
    sign = (word & np.uint64(0xF)).astype(np.uint8)
    word >>= np.uint64(4)  # the digits alone
    negative = (sign == 0xB) | (sign == 0xD)
    parts = [(bad_nibbles(word), Reason.PACKED_DIGIT), (sign < 0xA, Reason.PACKED_SIGN)]
    if options.strict_signs:
        parts.append(((sign == 0xA) | (sign == 0xB) | (sign == 0xE), Reason.STRICT_SIGN))
    if not field.signed:
        parts.append((negative, Reason.NEGATIVE_UNSIGNED))
    if field.digits % 2 == 0:  # an even digit count leaves the first nibble spare: it must be zero
        parts.append(((word >> np.uint64(8 * width - 8)) != 0, Reason.TOO_MANY_DIGITS))
    reasons = merge_reasons(*parts)
    value = bcd_value(word, 2 * width - 1).view(np.int64)  # in place: checks come first
    negate_where(value, negative)
    return DecodedColumn(to_arrow(Unscaled(value), field.arrow_type, field.scale, None), reasons)


def decode_packed_bytes(matrix: np.ndarray, field: Field, options: DecodeOptions
                        ) -> DecodedColumn:
    """The general path, any width: table lookups on bytes."""
    body, last = matrix[:, :-1], matrix[:, -1]
    high_digit = _HIGH[last]
    negative = SIGN_NEGATIVE[last]
    digit_bad = ~PAIR_VALID[body].all(axis=1) | (high_digit > 9)
    # an even digit count leaves the first nibble spare: it must be zero
    spare = field.digits % 2 == 0
    too_many = (_HIGH[matrix[:, 0]] != 0) if spare else np.zeros(len(last), bool)
    unscaled = _unscaled(body, np.minimum(high_digit, 9), negative)
    reasons = merge_reasons(
        (digit_bad, Reason.PACKED_DIGIT),
        (~SIGN_VALID[last], Reason.PACKED_SIGN),
        (SIGN_LOOSE[last] & options.strict_signs, Reason.STRICT_SIGN),
        (negative & (not field.signed), Reason.NEGATIVE_UNSIGNED),
        (too_many, Reason.TOO_MANY_DIGITS),
    )
    return DecodedColumn(to_arrow(unscaled, field.arrow_type, field.scale, None), reasons)


def decode_packed_unsigned(matrix: np.ndarray, field: Field, options: DecodeOptions
                           ) -> DecodedColumn:
    """COMP-3U (Cobrix's name): packed digits with no sign nibble, every nibble a digit."""
    width = matrix.shape[1]
    if width > WORD_BYTES:
        return decode_packed_unsigned_bytes(matrix, field, options)
    word = read_word(matrix, 0, width)
    parts = [(bad_nibbles(word), Reason.PACKED_DIGIT)]
    if field.digits % 2 == 1:  # an odd digit count leaves the first nibble spare
        parts.append(((word >> np.uint64(8 * width - 4)) != 0, Reason.TOO_MANY_DIGITS))
    value = bcd_value(word, 2 * width).view(np.int64)  # 16 nibbles: below 10**16, no overflow
    return DecodedColumn(to_arrow(Unscaled(value), field.arrow_type, field.scale, None),
                         merge_reasons(*parts))


def decode_packed_unsigned_bytes(matrix: np.ndarray, field: Field, options: DecodeOptions
                                 ) -> DecodedColumn:
    """COMP-3U, the general path for any width."""
    digit_bad = ~PAIR_VALID[matrix].all(axis=1)
    spare = field.digits % 2 == 1
    too_many = (_HIGH[matrix[:, 0]] != 0) if spare else np.zeros(len(matrix), bool)
    unscaled = _unscaled(matrix, None, None)
    reasons = merge_reasons((digit_bad, Reason.PACKED_DIGIT), (too_many, Reason.TOO_MANY_DIGITS))
    return DecodedColumn(to_arrow(unscaled, field.arrow_type, field.scale, None), reasons)


def _unscaled(body: np.ndarray, last_digit: np.ndarray | None, negative: np.ndarray | None
              ) -> Unscaled:
    """Integer value of the digit pairs (plus a final single digit), exact for any width."""
    pairs = PAIR_VALUE[body]
    tail = 0 if last_digit is None else 1
    digits = 2 * body.shape[1] + tail
    if digits <= 18:
        low = accumulate(pairs, 100)
        if last_digit is not None:
            low = low * 10 + last_digit
        if negative is not None:
            np.negative(low, out=low, where=negative)
        return Unscaled(low)
    # beyond 18 digits: one digit per nibble, assembled exactly by from_digits (accumulating
    # digit pairs here overflowed int64 for 36 digits and more)
    nibbles = np.stack([_HIGH[body], _LOW[body]], axis=2).reshape(len(body), 2 * body.shape[1])
    if last_digit is not None:
        nibbles = np.concatenate([nibbles, last_digit[:, None]], axis=1)
    return from_digits(nibbles, negative)
