"""OCCURS DEPENDING ON: variable tables, and the fields after them that shift with the count.

COBOL places the items after a variable table right behind the elements a record holds.
``normalize`` gathers every record into the layout's maximum shape (one ``take_along_axis``),
so the fixed-offset decoders apply; elements past a record's count become NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mfpipe.errors import LayoutError
from mfpipe.layout import Field, OccursDependingOn

if TYPE_CHECKING:
    from mfpipe.codec.plan import DecodePlan


@dataclass(frozen=True)
class OdoShift:
    """Per-record counts of each variable table and the byte shift they cause."""

    tables: tuple[OccursDependingOn, ...]
    counts: tuple[np.ndarray, ...]  # clipped to each table's range
    bad_count: np.ndarray  # bool: the count itself is invalid or out of range

    @classmethod
    def measure(cls, plan: DecodePlan, matrix: np.ndarray) -> OdoShift:
        """Decode every counter field (it must precede the first table) and check its range."""
        tables = plan.record.odo
        first_table = tables[0].offset
        counts, bad = [], np.zeros(matrix.shape[0], dtype=bool)
        for table in tables:
            column = next(c for c in plan.columns if c.field.column == table.count_column)
            counter = column.field
            if counter.offset + counter.size > first_table:
                raise LayoutError(plan.record.name, f"DEPENDING ON {counter.name} must come "
                                  "before the first variable table")
            raw = matrix[:, counter.offset:counter.offset + counter.size]
            result = column.decoder(raw, counter, plan.options)
            values = np.asarray(result.values.fill_null(-1).cast("int64"), dtype=np.int64)
            out = (values < table.min_count) | (values > table.max_count)
            if result.reasons is not None:
                out |= result.reasons != 0
            bad |= out
            counts.append(np.clip(values, table.min_count, table.max_count))
        return cls(tables, tuple(counts), bad)

    def shift_at(self, offset: int) -> np.ndarray | int:
        """Bytes by which a field at ``offset`` (maximum layout) sits earlier in each record."""
        shift: np.ndarray | int = 0
        for table, count in zip(self.tables, self.counts):
            if offset >= table.offset + table.max_count * table.element_size:
                shift = shift + (table.max_count - count) * table.element_size
        return shift

    def normalize(self, matrix: np.ndarray) -> np.ndarray:
        """Move the bytes after each table to where the maximum layout expects them."""
        width = matrix.shape[1]
        positions = np.arange(width)
        shift = np.zeros(matrix.shape, dtype=np.int64)
        moved = False
        for table, count in zip(self.tables, self.counts):
            end = table.offset + table.max_count * table.element_size
            if end < width:
                shift += ((table.max_count - count) * table.element_size)[:, None] * (
                    positions >= end)[None, :]
                moved = True
        if not moved:
            return matrix
        source = np.clip(positions[None, :] - shift, 0, width - 1)
        return np.take_along_axis(matrix, source, axis=1)

    def unused(self, f: Field) -> np.ndarray:
        """Records whose count does not reach this element of its table."""
        table = f.odo
        assert table is not None
        element = (f.offset - table.offset) // table.element_size + 1
        count = self.counts[self.tables.index(table)]
        return count < element


def compact(matrix: np.ndarray, tables: tuple[OccursDependingOn, ...],
            counts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of ``normalize``: close the gaps after short tables (used by the encoder).

    Returns the rows (same width, tails undefined) and each record's real length.
    """
    width = matrix.shape[1]
    positions = np.arange(width)[None, :]
    lengths = np.full(matrix.shape[0], width, dtype=np.int64)
    for table, count in reversed(list(zip(tables, counts))):
        delta = (table.max_count - count) * table.element_size
        compact_end = table.offset + table.max_count * table.element_size - delta
        source = positions + delta[:, None] * (positions >= compact_end[:, None])
        matrix = np.take_along_axis(matrix, np.clip(source, 0, width - 1), axis=1)
        lengths -= delta
    return matrix, lengths
