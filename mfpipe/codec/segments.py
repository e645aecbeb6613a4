"""Parents of a hierarchical file's child segments, found chunk by chunk.

In a multi-segment file a child record (a contact) belongs to the nearest record of its
parent segment (a company) before it. A child segment's load carries that record's number and
key columns on every row (:class:`mfpipe.codec.options.Parent`). Within a chunk this is a
running maximum over the parents' positions, vectorized; the parent of a chunk's first
children may lie in an earlier chunk, so every chunk is linked in file order once, by
whoever frames the file (the reader, ``convert``, a reconciliation's re-decode), and the
:data:`Carry` (the last parent so far) travels with the next chunk's task to whichever
processor decodes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mfpipe.codec.options import Branch, DecodeOptions
from mfpipe.codec.plan import DecodePlan, branch_applies
from mfpipe.layout import RecordLayout

# (record number, key values) of the last parent record so far; (0, ()) before the first
Carry = tuple[int, tuple[Any, ...]]
NO_CARRY: Carry = (0, ())


class Linked(NamedTuple):
    """Each record's parent: its record number (0: none yet, an orphan) and key values."""

    parent_no: np.ndarray  # int64, one per record of the matrix linked
    keys: list[pa.Array]  # one per key column, one value per record
    carry: Carry  # the last parent after this matrix, for the next chunk


@dataclass(frozen=True)
class ParentLink:
    """Finds the parents of a child segment's records: the discriminator, and the parent's
    key fields, decoded on their own (cheap: a few fields of every record)."""

    binding: Branch  # the parent segment's
    discriminator: DecodePlan
    keys: DecodePlan | None  # of the key fields (None: no key carried)

    @classmethod
    def of(cls, plan: DecodePlan) -> ParentLink | None:
        """The link of ``plan``'s segment, or None when it has no parent."""
        options, parent = plan.options, plan.options.parent
        if parent is None:
            return None
        binding = next(b for b in options.branches if b.branch == parent.parent)
        alone = replace(options, branches=(), required=(), segment=None, parents=(), dates=())
        keyed = replace(alone, invalid_numeric="null",
                        dates=tuple(d for d in options.dates if d[0] in parent.key))
        return cls(binding, _part(plan.record, (binding.column,), alone),
                   _part(plan.record, parent.key, keyed) if parent.key else None)

    def link(self, matrix: np.ndarray, first_record_no: int, offsets: np.ndarray,
             lengths: np.ndarray | None, carry: Carry) -> Linked:
        """The parent of every record of a chunk (``carry``: the last parent before it).
        A record is a parent when its discriminator says so (one that does not decode says
        nothing); a parent's key value that does not decode is carried as NULL (the parent
        is its own segment's reject), never taken from another parent."""
        n = len(matrix)
        decoded = self.discriminator.decode(matrix, first_record_no, offsets, lengths)
        is_parent = np.zeros(n, dtype=bool)
        is_parent[decoded.record_no - first_record_no] = branch_applies(
            decoded.batch.column(self.binding.column), self.binding.values)
        nearest = np.maximum.accumulate(np.where(is_parent, np.arange(n), -1)) if n else \
            np.zeros(0, dtype=np.int64)
        inherited = nearest < 0
        parent_no = np.where(inherited, carry[0], first_record_no + nearest).astype(np.int64)
        keys = []
        if self.keys is not None:
            found = self.keys.decode(matrix, first_record_no, offsets, lengths)
            row_of = np.full(n, -1, dtype=np.int64)
            row_of[found.record_no - first_record_no] = np.arange(len(found.record_no))
            rows = row_of[np.maximum(nearest, 0)]
            index = pa.array(rows, mask=(rows < 0) | inherited)
            for position, values in enumerate(found.batch.columns):
                taken = values.take(index)
                if inherited.any() and carry[1]:
                    taken = pc.if_else(pa.array(inherited),
                                       pa.scalar(carry[1][position], values.type), taken)
                keys.append(taken)
        after = carry if not n else (int(parent_no[-1]), tuple(k[-1].as_py() for k in keys))
        return Linked(parent_no, keys, after)


def _part(record: RecordLayout, columns: tuple[str, ...], options: DecodeOptions
          ) -> DecodePlan:
    """A plan of a few of ``record``'s fields, decoded on their own."""
    fields = tuple(f for f in record.fields if f.column in columns)
    return DecodePlan.compile(RecordLayout(record.name, record.table, record.size, fields),
                              options)

