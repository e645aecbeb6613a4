"""Text fields (PIC X/A, and PIC N as UTF-16BE) into Arrow strings, a column at a time.

The column is first translated to ASCII with one ``take`` on a table of byte pairs
(:func:`mfpipe.codec.charsets.translate`). When every character is 7-bit ASCII (nearly always)
the translated bytes are already UTF-8: they become a string array as they are and Arrow's
``ascii_*trim`` kernels trim and compact them. Otherwise the general path maps the bytes to
code points and expands each to its 1-3 UTF-8 bytes with arithmetic; trimming there finds each
row's first and last non-space position with ``argmax`` and a boolean mask compacts the kept
bytes. No per-record Python on either path.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mfpipe.codec.charsets import NOT_ASCII, charset, translate
from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.options import DecodeOptions, Trim
from mfpipe.codec.reasons import Reason
from mfpipe.layout import Field

_SPACE = 0x20
_ASCII_TRIM = {"right": pc.ascii_rtrim, "left": pc.ascii_ltrim, "both": pc.ascii_trim}


def decode_text(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode a single-byte text column in the file's code page."""
    reasons = None
    if options.low_values == "reject":
        reasons = merge_reasons(((matrix == 0).any(axis=1), Reason.LOW_VALUES))
    chars = translate(matrix, options.encoding, options.low_values == "space")
    if chars.size == 0 or chars.max() < NOT_ASCII:  # ASCII bytes are UTF-8 already
        return DecodedColumn(strings_from_ascii(chars, options.trim), reasons)
    points = charset(options.encoding).codepoints[matrix]
    if options.low_values == "space":
        points[matrix == 0] = _SPACE
    return DecodedColumn(strings_from_codepoints(points, options.trim), reasons)


def decode_national(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode PIC N (UTF-16 big-endian); an unpaired surrogate is a reject, not a guess.

    U+0000 (LOW-VALUES) follows the same policy as in single-byte text.
    """
    points = np.ascontiguousarray(matrix).view(">u2").astype(np.uint32)
    nul = points == 0
    high = (points >= 0xD800) & (points <= 0xDBFF)
    low = (points >= 0xDC00) & (points <= 0xDFFF)
    pair = np.zeros_like(high)  # a high surrogate followed by a low one: one character
    pair[:, :-1] = high[:, :-1] & low[:, 1:]
    second = np.zeros_like(high)
    second[:, 1:] = pair[:, :-1]
    lone = (high | low) & ~pair & ~second
    reasons = merge_reasons((np.asarray(lone.any(axis=1)), Reason.BAD_CHARACTER),
                            (nul.any(axis=1) & (options.low_values == "reject"),
                             Reason.LOW_VALUES))
    if options.low_values == "space":
        points[nul] = _SPACE
    if pair.any():
        first = points[:, :-1]  # a view: the pair's code point replaces its high half
        combined = 0x10000 + ((first - 0xD800) << 10) + (points[:, 1:] - 0xDC00)
        first[pair[:, :-1]] = combined[pair[:, :-1]]
    points[lone] = 0xFFFD
    points[points == 0x3000] = _SPACE  # the ideographic space pads DBCS fields
    return DecodedColumn(strings_from_codepoints(points, options.trim, second), reasons)


def _bounds(blank: np.ndarray, trim: Trim) -> tuple[np.ndarray, np.ndarray]:
    """First kept and one-past-last kept column of every row."""
    n, width = blank.shape
    start = np.zeros(n, dtype=np.int64)
    stop = np.full(n, width, dtype=np.int64)
    if trim == "none" or width == 0:
        return start, stop
    filled = ~blank
    anything = filled.any(axis=1)
    if trim in ("right", "both"):
        stop = np.where(anything, width - np.argmax(filled[:, ::-1], axis=1), 0)
    if trim in ("left", "both"):  # an all-blank row keeps nothing
        start = np.where(anything, np.argmax(filled, axis=1), stop)
    return start, stop


def _kept(shape: tuple[int, int], start: np.ndarray, stop: np.ndarray) -> np.ndarray | None:
    """Mask of the kept columns, or None when every row keeps every column."""
    if not start.any() and (stop == shape[1]).all():
        return None
    columns = np.arange(shape[1])
    return (columns >= start[:, None]) & (columns < stop[:, None])


def _string_array(data: np.ndarray, lengths: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32 if data.size < 2**31 else np.int64)
    np.cumsum(lengths, out=offsets[1:])
    arrow_type = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    array = pa.Array.from_buffers(arrow_type, len(lengths),
                                  [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return array if arrow_type == pa.string() else array.cast(pa.string())


def strings_from_ascii(chars: np.ndarray, trim: Trim) -> pa.Array:
    """Strings from a [rows, width] matrix of ASCII bytes, trimmed of spaces.

    The matrix becomes a string array as it is (every row ``width`` long, no copy) and Arrow's
    C++ trim kernel does the trimming and compaction in one pass.
    """
    chars = np.ascontiguousarray(chars)
    n, width = chars.shape
    if width == 1 and trim != "none":  # PIC X flags: trimming keeps the byte unless a space
        return _one_character_strings(chars[:, 0])
    offsets = np.arange(n + 1, dtype=np.int32 if chars.size < 2**31 else np.int64) * width
    arrow_type = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    array = pa.Array.from_buffers(arrow_type, n, [None, pa.py_buffer(offsets),
                                                   pa.py_buffer(chars)])
    if trim != "none":
        array = _ASCII_TRIM[trim](array, characters=" ")
    return array if arrow_type == pa.string() else array.cast(pa.string())


def _one_character_strings(chars: np.ndarray) -> pa.Array:
    """Strings of one ASCII character or empty (a space), built without Arrow's per-string
    trim, which costs more than the whole column here."""
    kept = chars != _SPACE
    offsets = np.zeros(len(chars) + 1, dtype=np.int32)
    np.cumsum(kept, out=offsets[1:])
    data = chars[kept]
    return pa.Array.from_buffers(pa.string(), len(chars), [None, pa.py_buffer(offsets),
                                                           pa.py_buffer(data)])


def strings_from_codepoints(points: np.ndarray, trim: Trim, dropped: np.ndarray | None = None
                            ) -> pa.Array:
    """Strings from a [rows, width] matrix of code points, encoded as UTF-8.

    ``dropped`` marks positions that print nothing (the low half of a UTF-16 surrogate pair).
    """
    start, stop = _bounds(points == _SPACE, trim)
    kept = _kept(points.shape, start, stop)
    if kept is None:
        kept = np.ones(points.shape, dtype=bool)
    if dropped is not None:
        kept &= ~dropped
    size = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
    size = np.where(kept, size, 0)
    one, two, three, four = size == 1, size == 2, size == 3, size == 4
    longest = 4 if four.any() else 3  # code points beyond the BMP only come from PIC N

    def tail(shift: int) -> np.ndarray:  # a continuation byte: six bits of the code point
        return 0x80 | ((points >> shift) & 0x3F)

    utf8 = np.zeros(points.shape + (longest,), dtype=np.uint8)
    utf8[..., 0] = np.select([one, two, three, four],
                             [points, 0xC0 | (points >> 6), 0xE0 | (points >> 12),
                              0xF0 | (points >> 18)])
    utf8[..., 1] = np.select([two, three], [tail(0), tail(6)], tail(12))
    utf8[..., 2] = np.where(three, tail(0), tail(6))
    if longest == 4:
        utf8[..., 3] = tail(0)
    used = np.arange(longest) < size[..., None]
    return _string_array(utf8[used], size.sum(axis=1))
