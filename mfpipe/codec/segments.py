"""Parents of a hierarchical file's child segments, found chunk by chunk.

In a multi-segment file a child record (a contact) belongs to the nearest record of its
parent segment (a company) before it, unless a record outside the parent's subtree, or of no
segment, lies between them (see :class:`ParentLink`). A child segment's load carries that
record's number and key columns on every row (:class:`mfpipe.codec.options.Parent`). Within a
chunk this is a running maximum over the parents' positions, vectorized; the parent of a
chunk's first children may lie in an earlier chunk, so every chunk is linked in file order
once, by whoever frames the file (the reader, ``convert``, a reconciliation's re-decode), and
the :data:`Carry` (the last parent so far) travels with the next chunk's task to whichever
processor decodes it.
"""

from __future__ import annotations

import re
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
class Discriminators:
    """Which bound segment each record is: the discriminators alone, decoded (a few bytes
    of every record, cheap)."""

    segments: tuple[str, ...]  # the bound branches, each once, in the order bound
    bindings: tuple[Branch, ...]
    plan: DecodePlan

    @classmethod
    def of(cls, record: RecordLayout, options: DecodeOptions) -> Discriminators:
        alone = replace(options, branches=(), required=(), segment=None, parents=(), dates=())
        columns = tuple(dict.fromkeys(b.column for b in options.branches))
        return cls(tuple(dict.fromkeys(b.branch for b in options.branches)), options.branches,
                   _part(record, columns, alone))

    def which(self, matrix: np.ndarray, first_record_no: int, offsets: np.ndarray,
              lengths: np.ndarray | None) -> np.ndarray:
        """Each record's segment, as its position in :attr:`segments` (the first binding
        that applies decides); -1 for a record of no segment, or whose discriminator does
        not decode."""
        decoded = self.plan.decode(matrix, first_record_no, offsets, lengths)
        found = np.full(len(decoded.record_no), -1, dtype=np.int64)
        for binding in self.bindings:
            applies = branch_applies(decoded.batch.column(binding.column), binding.values)
            found[(found < 0) & applies] = self.segments.index(binding.branch)
        segment = np.full(len(matrix), -1, dtype=np.int64)
        segment[decoded.record_no - first_record_no] = found
        return segment


@dataclass(frozen=True)
class ParentLink:
    """Finds the parents of a child segment's records: the discriminators, and the parent's
    key fields, decoded on their own (cheap: a few fields of every record).

    A child's parent is the nearest record of its parent segment before it, unless a record
    of a segment outside the parent's subtree (a grandparent, an uncle: the file's
    hierarchy has moved on) or of no segment at all (bad data: perhaps the parent itself,
    corrupted) lies between them: then the child has no known parent and is a reject, never
    linked to a parent it may not belong to."""

    segments: Discriminators
    parent: int  # the parent segment's position in ``segments``
    breaks: tuple[int, ...]  # the positions of the segments outside the parent's subtree
    keys: DecodePlan | None  # of the key fields (None: no key carried)

    @classmethod
    def of(cls, plan: DecodePlan) -> ParentLink | None:
        """The link of ``plan``'s segment, or None when it has no parent."""
        options, parent = plan.options, plan.options.parent
        if parent is None:
            return None
        segments = Discriminators.of(plan.record, options)
        parent_of = {p.child: p.parent for p in options.parents}
        below = {parent.parent}
        while grown := {c for c, p in parent_of.items() if p in below} - below:
            below |= grown
        alone = replace(options, branches=(), required=(), segment=None, parents=(), dates=())
        keyed = replace(alone, invalid_numeric="null",
                        dates=tuple(d for d in options.dates if d[0] in parent.key))
        return cls(segments, segments.segments.index(parent.parent),
                   tuple(i for i, s in enumerate(segments.segments) if s not in below),
                   _part(plan.record, parent.key, keyed) if parent.key else None)

    def link(self, matrix: np.ndarray, first_record_no: int, offsets: np.ndarray,
             lengths: np.ndarray | None, carry: Carry) -> Linked:
        """The parent of every record of a chunk (``carry``: the last parent before it; 0
        after a break). A record is a parent when its discriminator says so; a parent's key
        value that does not decode is carried as NULL (the parent is its own segment's
        reject), never taken from another parent."""
        n = len(matrix)
        segment = self.segments.which(matrix, first_record_no, offsets, lengths)
        is_parent = segment == self.parent
        ends = is_parent | (segment < 0) | np.isin(segment, self.breaks)
        nearest = np.maximum.accumulate(np.where(ends, np.arange(n), -1)) if n else \
            np.zeros(0, dtype=np.int64)
        inherited = nearest < 0
        known = inherited | is_parent[np.maximum(nearest, 0)]
        parent_no = np.where(inherited, carry[0], first_record_no + nearest)
        parent_no = np.where(known, parent_no, 0).astype(np.int64)
        keys = []
        if self.keys is not None:
            found = self.keys.decode(matrix, first_record_no, offsets, lengths)
            row_of = np.full(n, -1, dtype=np.int64)
            row_of[found.record_no - first_record_no] = np.arange(len(found.record_no))
            rows = row_of[np.maximum(nearest, 0)]
            index = pa.array(rows, mask=(rows < 0) | inherited | ~known)
            for position, values in enumerate(found.batch.columns):
                taken = values.take(index)
                if inherited.any() and carry[1]:
                    taken = pc.if_else(pa.array(inherited),
                                       pa.scalar(carry[1][position], values.type), taken)
                keys.append(taken)
        after = carry if not n else NO_CARRY if parent_no[-1] == 0 else (
            int(parent_no[-1]), tuple(k[-1].as_py() for k in keys))
        return Linked(parent_no, keys, after)


def segment_name(branch: str) -> str:
    """A segment's name in tables and columns: ``CONTACTS`` -> ``contacts``."""
    return re.sub(r"[^0-9a-z_]", "_", branch.lower())


def _part(record: RecordLayout, columns: tuple[str, ...], options: DecodeOptions
          ) -> DecodePlan:
    """A plan of a few of ``record``'s fields, decoded on their own."""
    fields = tuple(f for f in record.fields if f.column in columns)
    return DecodePlan.compile(RecordLayout(record.name, record.table, record.size, fields),
                              options)

