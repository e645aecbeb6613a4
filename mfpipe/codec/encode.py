"""The encoder: values into a record's bytes, the exact inverse of the decoders.

``mfpipe gen``, the demo and the property tests all write data through here, so a value that
survives ``encode -> decode`` unchanged is the contract both sides are tested against.
Numbers are given unscaled (``12345`` for 123.45 in ``S9(3)V99``); int64 arrays are encoded
vectorized, wider values (Python ints in an object array) through their decimal digits.
Only the base branch of a REDEFINES overlay is written; redefining fields are left as is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mfpipe.codec.charsets import charset
from mfpipe.codec.options import DecodeOptions
from mfpipe.errors import ConfigError
from mfpipe.layout import Category, Field, RecordLayout, SignPosition, Usage
from mfpipe.layout.picture import expand_picture


def encode_records(record: RecordLayout, values: Mapping[str, Sequence[Any] | np.ndarray],
                   n: int, options: DecodeOptions | None = None) -> np.ndarray:
    """A [n, record.size] byte matrix; columns missing from ``values`` are left as spaces."""
    options = options or DecodeOptions()
    rows = np.full((n, record.size), charset(options.encoding).space, dtype=np.uint8)
    for f in record.fields:
        if f.column in values and not f.redefining:
            rows[:, f.offset:f.offset + f.size] = encode_column(f, values[f.column], options)
    return rows


def encode_column(field: Field, values: Sequence[Any] | np.ndarray, options: DecodeOptions
                  ) -> np.ndarray:
    """Encode one column of values into a [n, field.size] byte matrix."""
    if field.category is Category.ALPHANUMERIC:
        return encode_text(values, field.size, options.encoding)
    if field.category is Category.NATIONAL:
        return _encode_national(values, field.size)
    if field.category is Category.FLOAT:
        return encode_float(np.asarray(values, dtype=np.float64), field.size, options.float_format)
    if field.category is Category.NUMERIC_EDITED:
        cs = charset(options.encoding)
        text = [_render_edited(int(v), field.picture) for v in values]
        return encode_text(text, field.size, cs.name)
    if field.usage in (Usage.COMP, Usage.COMP_5):
        dtype = f">{'i' if field.signed else 'u'}{field.size}"
        return np.asarray(values).astype(dtype).view(np.uint8).reshape(-1, field.size)
    if field.usage is Usage.COMP_3:
        return encode_packed(values, field.size, field.signed)
    if field.usage is Usage.COMP_3U:
        digits, _ = digit_matrix(values, 2 * field.size)
        return (digits[:, 0::2] << 4 | digits[:, 1::2]).astype(np.uint8)
    return encode_zoned(values, field, options.encoding)


def digit_matrix(values: Sequence[Any] | np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimal digits of |value| right-aligned in ``width`` columns, and the negative mask."""
    array = np.asarray(values)
    if array.dtype.kind in "iu" and width <= 18:
        magnitude = np.abs(array.astype(np.int64))
        powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
        return ((magnitude[:, None] // powers) % 10).astype(np.uint8), array < 0
    ints = [int(v) for v in array.tolist()]
    text = "".join(f"{abs(v):0{width}d}"[-width:] for v in ints).encode("ascii")
    digits = (np.frombuffer(text, dtype=np.uint8) - ord("0")).reshape(len(ints), width)
    return digits, np.array([v < 0 for v in ints], dtype=bool)


def encode_packed(values: Sequence[Any] | np.ndarray, size: int, signed: bool) -> np.ndarray:
    """COMP-3 bytes with the preferred signs: C plus, D minus, F unsigned."""
    digits, negative = digit_matrix(values, 2 * size - 1)
    sign = np.where(negative, 0xD, 0xC) if signed else np.full(len(digits), 0xF)
    nibbles = np.concatenate([digits, sign[:, None].astype(np.uint8)], axis=1)
    return (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).astype(np.uint8)


def encode_zoned(values: Sequence[Any] | np.ndarray, field: Field, encoding: str) -> np.ndarray:
    """DISPLAY numeric bytes: overpunched (C/D zone) or with a separate sign byte."""
    cs = charset(encoding)
    separate = field.sign_position in (SignPosition.LEADING_SEPARATE,
                                       SignPosition.TRAILING_SEPARATE)
    width = field.size - (1 if separate else 0)
    digits, negative = digit_matrix(values, width)
    zero = 0xF0 if cs.ebcdic else 0x30
    out = (digits + zero).astype(np.uint8)
    if separate:
        sign = np.where(negative, cs.minus, cs.plus).astype(np.uint8)[:, None]
        leading = field.sign_position is SignPosition.LEADING_SEPARATE
        return np.concatenate([sign, out] if leading else [out, sign], axis=1)
    if field.signed:
        at = 0 if field.sign_position is SignPosition.LEADING else -1
        out[:, at] = _overpunch(cs.ebcdic)[negative.astype(int), digits[:, at]]
    return out


@functools.cache
def _overpunch(ebcdic: bool) -> np.ndarray:
    """[positive/negative, digit] -> the overpunched sign byte."""
    if ebcdic:
        return np.array([0xC0 + np.arange(10), 0xD0 + np.arange(10)], dtype=np.uint8)
    return np.frombuffer(b"{ABCDEFGHI}JKLMNOPQR", dtype=np.uint8).reshape(2, 10)


def encode_text(values: Sequence[Any] | np.ndarray, size: int, encoding: str) -> np.ndarray:
    """Text padded with spaces (or cut) to ``size`` bytes in the code page."""
    cs = charset(encoding)
    reverse = _reverse_table(cs.name)
    points = np.asarray(values, dtype=f"<U{size}").view(np.uint32).reshape(-1, size)
    if (points >= len(reverse)).any() or (reverse[points] < 0).any():
        bad = sorted({chr(p) for p in points[(points >= len(reverse))].tolist()}
                     | {chr(p) for p in points[points < len(reverse)][
                         reverse[points[points < len(reverse)]] < 0].tolist()})
        raise ConfigError(f"characters {bad} cannot be written in {cs.name}")
    out = reverse[points].astype(np.uint8)
    out[points == 0] = cs.space  # NumPy pads short strings with NUL
    return out


@functools.cache
def _reverse_table(name: str) -> np.ndarray:
    cs = charset(name)
    table = np.full(int(cs.codepoints.max()) + 1, -1, dtype=np.int32)
    table[cs.codepoints[::-1]] = np.arange(255, -1, -1)  # lowest byte wins for duplicates
    table[0] = 0
    return table


def _encode_national(values: Sequence[Any] | np.ndarray, size: int) -> np.ndarray:
    """UTF-16 big-endian, padded with spaces; characters beyond the BMP as surrogate pairs."""
    chars = size // 2
    points = np.asarray(values, dtype=f"<U{chars}").view(np.uint32).reshape(-1, chars)
    if (points > 0xFFFF).any():  # rare: through Python's codec, value by value
        text = [str(v).encode("utf-16-be")[:size].ljust(size, b"\x00") for v in values]
        units = np.frombuffer(b"".join(text), dtype=">u2").reshape(-1, chars)
        return np.where(units == 0, 0x20, units).astype(">u2").view(np.uint8).reshape(-1, size)
    points = np.where(points == 0, 0x20, points).astype(">u2")
    return points.view(np.uint8).reshape(-1, size)


def encode_float(values: np.ndarray, size: int, fmt: str) -> np.ndarray:
    """IBM hexadecimal (rounded to nearest) or IEEE big-endian floating point bytes."""
    if fmt == "ieee":
        return values.astype(f">f{size}").view(np.uint8).reshape(-1, size)
    bits = 8 * size - 8
    mantissa, exponent2 = np.frexp(np.abs(values))  # |v| = m * 2**e, 0.5 <= m < 1
    exponent16 = -(-exponent2 // 4)  # ceil(e / 4)
    fraction = np.rint(np.ldexp(mantissa, exponent2 - 4 * exponent16 + bits)).astype(np.uint64)
    carry = fraction >> np.uint64(bits) != 0  # rounding reached 1.0: renormalize
    fraction = np.where(carry, fraction >> np.uint64(4), fraction)
    exponent16 = exponent16 + carry
    biased = exponent16 + 64
    if (biased > 127)[values != 0].any():
        raise ConfigError("a value is outside the IBM hexadecimal floating point range")
    # below 16**-65 there is no normalized form: keep exponent 0 and shift the fraction right
    # (an unnormalized number, as some files hold), rounded to nearest; tinier values become 0
    shift = np.clip(-4 * biased, 0, 63).astype(np.uint64)
    half = np.where(shift > 0, np.uint64(1) << np.maximum(shift, 1) - np.uint64(1), 0)
    fraction = np.where(shift > 0, (fraction + half.astype(np.uint64)) >> shift, fraction)
    words = (np.signbit(values).astype(np.uint64) << np.uint64(8 * size - 1)) | (
        np.clip(biased, 0, 127).astype(np.uint64) << np.uint64(bits)) | fraction
    words = np.where(values == 0, np.uint64(0), words)
    return words.astype(f">u{size}").view(np.uint8).reshape(-1, size)


def _render_edited(value: int, picture: str) -> str:
    """Print an unscaled value through a numeric-edited picture (per value; used by gen)."""
    symbols = [s for s in expand_picture(picture) if s not in ("V", "P")]
    floating: set[str] = set()
    digit_positions = []
    for i, s in enumerate(symbols):
        if s in ("9", "Z", "*") or (s in ("+", "-", "$") and s in floating):
            digit_positions.append(i)
        if s in ("+", "-", "$"):
            floating.add(s)
    text = f"{abs(value):0{len(digit_positions)}d}"[-len(digit_positions):]
    digit_of = dict(zip(digit_positions, text))
    point = next((i for i, s in enumerate(symbols) if s == "."), len(symbols))
    first_significant = next((i for i in digit_positions if digit_of[i] != "0" or i > point
                              or symbols[i] == "9"), len(symbols))
    out: list[str] = []
    negative = value < 0
    for i, s in enumerate(symbols):
        suppressed = i < first_significant
        if i in digit_of:
            out.append(digit_of[i] if not suppressed else ("*" if s == "*" else " "))
        elif s in ("+", "-", "$"):
            out.append(" " if s in floating and suppressed and symbols.count(s) > 1 else
                       _sign_char(s, negative))
        elif s in ("CR", "DB"):
            out.append(s if negative else "  ")
        elif s in (",", "/", "B", "0", "."):
            fill = "*" if "*" in symbols else " "
            out.append({"B": " "}.get(s, s) if not (suppressed and s in ",/B0") else fill)
        else:
            out.append(s)
    rendered = "".join(out)
    # a floating string prints its symbol right before the first significant digit
    for s in ("$", "+", "-"):
        if symbols.count(s) > 1 and first_significant < len(symbols):
            rendered = rendered[:first_significant - 1] + _sign_char(s, negative) + rendered[
                first_significant:]
    return rendered


def _sign_char(symbol: str, negative: bool) -> str:
    if symbol == "$":
        return "$"
    if symbol == "+":
        return "-" if negative else "+"
    return "-" if negative else " "
