"""64-bit word arithmetic (SWAR) for the packed and zoned fast paths.

Why: a field of up to 8 bytes fits one uint64 per record. Checking every digit and turning BCD
or zoned digits into binary then costs about a dozen whole-column integer operations on a
contiguous array, instead of a table lookup per byte and a multiply-add per digit position
(each one a pass over a strided 2-D column). The bytes of a field are read straight from the
record matrix through big-endian views, with no intermediate copy.

Words are big-endian: the field's first byte is the most significant byte of the word, so a
number's digits sit in lanes (nibbles or bytes) from most to least significant.
"""

from __future__ import annotations

import functools

import numpy as np

_U64 = np.uint64
WORD_BYTES = 8
_NIBBLE_HIGH_BIT = _U64(0x8888888888888888)

# Folding two lanes into one: ``word - (high lane) * (lane base - decimal base)``, from nibbles
# (base 16 -> 10) up to one 64-bit lane. Each entry: (shift, mask of the high lanes, factor).
_FOLD_NIBBLES = ((4, 0x0F0F0F0F0F0F0F0F, 16 - 10), (8, 0x00FF00FF00FF00FF, 256 - 100),
                 (16, 0x0000FFFF0000FFFF, 2**16 - 10**4), (32, 0xFFFFFFFF, 2**32 - 10**8))
# The same from one decimal digit per byte (zoned): bytes -> 16-bit -> 32-bit -> 64-bit lanes.
_FOLD_BYTES = ((8, 0x00FF00FF00FF00FF, 256 - 10), (16, 0x0000FFFF0000FFFF, 2**16 - 10**2),
               (32, 0xFFFFFFFF, 2**32 - 10**4))


def read_word(matrix: np.ndarray, start: int, size: int) -> np.ndarray:
    """Columns ``start:start+size`` (1-8 bytes) of every row as one big-endian uint64."""
    if size in (1, 2, 4, 8):
        return _window(matrix, start, size)
    # 3, 5, 6, 7 bytes: two overlapping power-of-two windows, the overlap shifted out of the first
    width = 1 << (size.bit_length() - 1)
    word = _window(matrix, start, width)
    word >>= _U64(8 * (2 * width - size))
    word <<= _U64(8 * width)
    word |= _window(matrix, start + size - width, width)
    return word


def _window(matrix: np.ndarray, start: int, size: int) -> np.ndarray:
    part = matrix[:, start:start + size]
    if size == 1:
        return part[:, 0].astype(np.uint64)
    if part.strides[1] != 1:  # a dtype view needs contiguous bytes within the row
        part = np.ascontiguousarray(part)
    return part.view(f">u{size}")[:, 0].astype(np.uint64)


def bad_nibbles(word: np.ndarray) -> np.ndarray:
    """Rows where some nibble is above 9 (bit 3 set together with bit 2 or bit 1)."""
    above = word << _U64(1)
    above |= word << _U64(2)
    above &= word
    above &= _NIBBLE_HIGH_BIT
    return above != 0


@functools.cache
def repeated(byte: int, lanes: int) -> np.uint64:
    """``byte`` in each of the low ``lanes`` bytes of a word (the rest zero)."""
    return _U64(int.from_bytes(bytes([byte]) * lanes, "big"))


def bad_digit_bytes(digits: np.ndarray, lanes: int) -> np.ndarray:
    """Rows where one of the low ``lanes`` bytes is above 9 (the other bytes must be zero).

    A byte above 0x7F has its top bit set; 0x0A-0x7F reach it when 0x76 is added. A carry out
    of a lane only comes from a lane that is already bad, so valid rows are never flagged.
    """
    if lanes == 0:
        return np.zeros(len(digits), dtype=bool)
    above = digits + repeated(0x76, lanes)
    above |= digits
    above &= repeated(0x80, lanes)
    return above != 0


def bcd_value(word: np.ndarray, nibbles: int) -> np.ndarray:
    """The number written in the low ``nibbles`` BCD nibbles (up to 16) of each word.

    Works in place: ``word`` is overwritten and returned. Rows with a nibble above 9 get a
    meaningless value (they are rejected by the caller).
    """
    return _fold(word, _FOLD_NIBBLES, nibbles)


def digits_value(word: np.ndarray, lanes: int) -> np.ndarray:
    """The number written in the low ``lanes`` bytes (up to 8), one digit 0-9 per byte.

    Works in place, like :func:`bcd_value`.
    """
    return _fold(word, _FOLD_BYTES, lanes)


def _fold(value: np.ndarray, steps: tuple[tuple[int, int, int], ...], lanes: int) -> np.ndarray:
    needed = max(lanes - 1, 0).bit_length()  # each step halves the number of lanes
    if needed:
        high = np.empty_like(value)  # one scratch array; out= avoids a temporary per operation
    for shift, mask, factor in steps[:needed]:  # a loop over lane sizes, not over records
        np.right_shift(value, _U64(shift), out=high)
        np.bitwise_and(high, _U64(mask), out=high)
        np.multiply(high, _U64(factor), out=high)
        np.subtract(value, high, out=value)
    return value


def negate_where(value: np.ndarray, negative: np.ndarray) -> None:
    """Negate int64 ``value`` in place where ``negative``, as ``(v ^ m) - m`` with m = 0 or -1.

    Why: a masked ``np.negative(..., where=)`` branches per element and is several times
    slower when signs are mixed, as they are in real data.
    """
    if not negative.any():
        return
    flip = negative.astype(np.int64)
    np.negative(flip, out=flip)
    value ^= flip
    value -= flip
