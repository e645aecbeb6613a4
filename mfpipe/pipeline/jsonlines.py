"""JSON Lines from Arrow batches, a column at a time.

The text is what ``json.dumps(row, ensure_ascii=False)`` writes for each row (``", "`` and
``": "`` separators, decimals as exact plain-notation strings, dates as ISO text), built
with Arrow compute kernels over whole columns: no Python work per row. Columns of other
types (floats, whose shortest text Python and Arrow spell differently; nested lists and
structs) are rendered by ``json.dumps`` value by value, the exact reference.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# what json.dumps writes for the characters it escapes (ensure_ascii=False)
_ESCAPES = [("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
            ("\b", "\\b"), ("\f", "\\f")] + [
    (chr(c), f"\\u{c:04x}") for c in range(0x20) if chr(c) not in "\n\r\t\b\f"]
_NEEDS_ESCAPE = '[\\x00-\\x1f"\\\\]'


def write_jsonl(handle: IO[bytes], batch: pa.RecordBatch | pa.Table) -> None:
    """Append one JSON object per row of ``batch`` to a binary file."""
    if not batch.num_rows:
        return
    if not batch.num_columns:
        handle.write(b"{}\n" * batch.num_rows)
        return
    pieces: list[Any] = []  # '{"a": ', a's values, ', "b": ', b's values, ..., '}\n'
    for index, name in enumerate(batch.schema.names):
        pieces += [("{" if index == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": ",
                   _values(batch.column(index))]
    rows = pc.binary_join_element_wise(*pieces, "}\n", "")
    text = rows.combine_chunks() if isinstance(rows, pa.ChunkedArray) else rows
    handle.write(_contiguous(text))


def _values(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each value's JSON text (``null`` for a null)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _quoted(array.cast(pa.string()))
    elif pa.types.is_integer(kind):
        text = array.cast(pa.string())
    elif pa.types.is_boolean(kind):
        text = pc.if_else(array, "true", "false")
    elif pa.types.is_date32(kind):
        text = _quoted(array.cast(pa.string()))
    elif pa.types.is_decimal(kind):
        text = _quoted(_plain_decimals(array))
    else:  # floats, lists, structs: json.dumps itself
        return pa.array([json.dumps(v, default=json_value, ensure_ascii=False)
                         for v in array.to_pylist()], pa.string())
    return pc.fill_null(text, "null")


def _quoted(text: pa.Array) -> pa.Array:
    if pc.any(pc.match_substring_regex(text, _NEEDS_ESCAPE)).as_py():
        for char, escaped in _ESCAPES:
            text = pc.replace_substring(text, char, escaped)
    return pc.binary_join_element_wise('"', text, '"', "")


def _plain_decimals(array: pa.Array) -> pa.Array:
    """Decimals in plain notation with every digit of their scale (``format(d, "f")``):
    Arrow writes the smallest in scientific notation (``0E-7``); those few are redone
    exactly by Python's Decimal."""
    text = array.cast(pa.string())
    scientific = pc.fill_null(pc.match_substring(text, "E"), False)
    if not pc.any(scientific).as_py():
        return text
    where = np.flatnonzero(scientific.to_numpy(zero_copy_only=False))
    fixed = pa.array([format(Decimal(v), "f") for v in text.take(pa.array(where)).to_pylist()],
                     pa.string())
    return pc.replace_with_mask(text, scientific, fixed)


def json_value(value: Any) -> str:
    """``json.dumps``'s fallback: decimals as exact strings, dates as ISO text."""
    if isinstance(value, Decimal):
        return format(value, "f")  # 0.0000000, not str()'s 0E-7
    return value.isoformat()


def _contiguous(text: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array's values, one after the other (not copied)."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset:
                                                                text.offset + len(text) + 1]
    data = text.buffers()[2]
    return memoryview(data)[int(offsets[0]):int(offsets[-1])] if data is not None else \
        memoryview(b"")
