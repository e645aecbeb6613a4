"""Shared helpers of the codec tests: inline copybooks and hand-built records into a DecodePlan."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from mfpipe.codec import DecodedBatch, DecodeOptions, DecodePlan, Reason
from mfpipe.layout import RecordLayout, parse_layout
from tests.support import copybook


@functools.cache
def record(body: str) -> RecordLayout:
    """The first record of an indented copybook snippet (code starts in column 8)."""
    return parse_layout(copybook(body)).records[0]


def matrix(rows: Sequence[bytes], width: int | None = None) -> np.ndarray:
    """Records as a [records, width] byte matrix, short ones padded with zeros."""
    width = max(map(len, rows), default=0) if width is None else width
    out = np.zeros((len(rows), width), dtype=np.uint8)
    for i, row in enumerate(rows):
        out[i, :len(row)] = np.frombuffer(row, dtype=np.uint8)
    return out


def decode(layout: RecordLayout | str, rows: Sequence[bytes], options: DecodeOptions | None = None,
           lengths: Sequence[int] | None = None, first_record_no: int = 1,
           **option_values: object) -> DecodedBatch:
    """Decode hand-built records; byte offsets are those of the records laid end to end."""
    if isinstance(layout, str):
        layout = record(layout)
    options = options or DecodeOptions(**option_values)  # type: ignore[arg-type]
    sizes = [len(r) for r in rows]
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64) if rows else \
        np.zeros(0, dtype=np.int64)
    plan = DecodePlan.compile(layout, options)
    return plan.decode(matrix(rows, max(sizes + [layout.size])), first_record_no, offsets,
                       None if lengths is None else np.asarray(lengths, dtype=np.int64))


def column(out: DecodedBatch, name: str) -> list[object]:
    """The decoded (valid) values of one column as Python objects."""
    return out.batch.column(name).to_pylist()


def rejects(out: DecodedBatch) -> list[tuple[int, str, str]]:
    """(record_no, COBOL field name, reason text) of every reject row."""
    rows = out.rejects.to_pylist()
    return [(r["record_no"], r["field"], r["reason"]) for r in rows]


def reject(record_no: int, field: str, reason: Reason) -> tuple[int, str, str]:
    """The reject triple expected for one record."""
    return (record_no, field, reason.text)
