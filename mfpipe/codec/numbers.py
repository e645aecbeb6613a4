"""Exact numbers: digit matrices into unscaled integers, and integers into Arrow arrays.

Money never passes through float. Up to 18 digits the unscaled value is an int64; beyond that
it is kept as two int64 halves (``high * 10**18 + low``) and assembled into decimal128's
16-byte two's-complement words with 32-bit limb arithmetic, all in NumPy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

_TEN18 = 10**18
_M32 = np.uint64(0xFFFFFFFF)


class Unscaled(NamedTuple):
    """An exact integer column: ``sign * (high * 10**18 + low)``; ``high`` is None when < 10**18."""

    low: np.ndarray  # int64, >= 0 when high is given, else signed
    high: np.ndarray | None = None
    negative: np.ndarray | None = None  # bool, only with high


def accumulate(values: np.ndarray, base: int) -> np.ndarray:
    """Fold columns of small digits (or digit pairs, base 100) into one int64 per row."""
    total = np.zeros(values.shape[0], dtype=np.int64)
    for j in range(values.shape[1]):  # loops over positions of a field, never over records
        total *= base
        total += values[:, j]
    return total


def from_digits(digits: np.ndarray, negative: np.ndarray | None) -> Unscaled:
    """An exact integer from a digit matrix (one digit 0-9 per column), any width."""
    width = digits.shape[1]
    if width <= 18:
        low = accumulate(digits, 10)
        if negative is not None:
            np.negative(low, out=low, where=negative)
        return Unscaled(low)
    high = accumulate(digits[:, : width - 18], 10)
    low = accumulate(digits[:, width - 18:], 10)
    return Unscaled(low, high, negative if negative is not None else np.zeros(len(low), bool))


def to_arrow(value: Unscaled, arrow_type: pa.DataType, scale: int, null: np.ndarray | None
             ) -> pa.Array:
    """Arrow integers or decimal128 holding exactly ``value * 10**-scale``.

    A negative ``scale`` (PIC 9(3)PP) multiplies the stored digits up first.
    """
    if scale < 0:
        value = _times_power_of_ten(value, -scale)
    mask = null if null is not None and null.any() else None
    if pa.types.is_integer(arrow_type):
        low = value.low
        if value.high is not None:  # e.g. S9(18) COMP-3: 19 nibbles, the spare one zero
            low = value.high * _TEN18 + value.low  # wraps only where the row is rejected
            if value.negative is not None:
                low = np.where(value.negative, -low, low)
        return pa.array(low.astype(arrow_type.to_pandas_dtype()), type=arrow_type, mask=mask)
    words = _int128_words(value)
    validity = None if mask is None else pa.array(~mask).buffers()[1]
    return pa.Array.from_buffers(arrow_type, len(words), [validity, pa.py_buffer(words)])


def from_uint64(values: np.ndarray) -> Unscaled:
    """Unsigned 64-bit binary values (which may exceed int64) as an exact integer."""
    high, low = np.divmod(values, np.uint64(_TEN18))
    return Unscaled(low.astype(np.int64), high.astype(np.int64), np.zeros(len(values), bool))


def _times_power_of_ten(value: Unscaled, power: int) -> Unscaled:
    """``value * 10**power`` (PIC 9(n)P...), moving digits past 10**18 into the high word."""
    if value.high is None:
        negative = value.low < 0
        low, high = np.abs(value.low), np.zeros(len(value.low), dtype=np.int64)
    else:
        assert value.negative is not None  # a two-word value carries its sign apart
        low, high, negative = value.low, value.high, value.negative
    while power > 0:  # at most 18 digits move per step; a loop over digits, not records
        step = min(power, 18)
        carry, low = np.divmod(low, 10 ** (18 - step))
        low, high = low * 10**step, high * 10**step + carry
        power -= step
    return Unscaled(low, high, negative)


def _int128_words(value: Unscaled) -> np.ndarray:
    """Little-endian (low, high) uint64 pairs of the 128-bit two's complement integer."""
    n = len(value.low)
    words = np.empty((n, 2), dtype=np.uint64)
    if value.high is None:  # the high word is the sign extension: an arithmetic shift by 63
        signed = words.view(np.int64)
        signed[:, 0] = value.low
        np.right_shift(value.low, 63, out=signed[:, 1])
        return words
    lo, hi = _mul_add(value.high.view(np.uint64), np.uint64(_TEN18), value.low.view(np.uint64))
    neg = value.negative
    if neg is not None and neg.any():
        lo_n = ~lo + np.uint64(1)
        hi_n = ~hi + (lo_n == 0).astype(np.uint64)
        lo = np.where(neg, lo_n, lo)
        hi = np.where(neg, hi_n, hi)
    words[:, 0], words[:, 1] = lo, hi
    return words


def _mul_add(a: np.ndarray, b: np.uint64, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a * b + c) as (low, high) 64-bit words, with 32-bit limbs so nothing overflows."""
    a0, a1 = a & _M32, a >> np.uint64(32)
    b0, b1 = b & _M32, b >> np.uint64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> np.uint64(32)) + (p01 & _M32) + (p10 & _M32)
    low = (p00 & _M32) | (mid << np.uint64(32))
    high = p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))
    total = low + c
    high = high + (total < low).astype(np.uint64)
    return total, high
