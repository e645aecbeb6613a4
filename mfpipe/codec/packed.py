"""Packed decimal (COMP-3), decoded a whole column at a time by table lookups on bytes.

Each byte but the last holds two digits; the last holds one digit and the sign nibble. A
256-entry table turns a byte into its two-digit value (0-99), so a 5-byte field costs five
``take`` + multiply-add passes over the column, whatever the number of records.
Sign nibbles (Principles of Operation): A C E F plus, B D minus; 0-9 invalid.
"""

from __future__ import annotations

import numpy as np

from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.numbers import Unscaled, accumulate, from_digits, to_arrow
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
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
