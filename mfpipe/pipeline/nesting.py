"""Nested output of a hierarchical file (``convert --nested``): one row per record of the
root segment, with its children inside it (a list of structs per child segment, named after
it), and theirs inside them, as Cobrix's segment-children.

Each chunk is decoded segment by segment, top down: each record by its own segment's plan
only, a child linked to its parent (:class:`~mfpipe.codec.segments.ParentLink`; each child
segment's carry kept from chunk to chunk). A child whose parent record is a reject has no
place in the output and is a reject itself (``PARENT_REJECTED``), as are its own children
in turn. A family (a root record and everything below it) is complete when the next root
record is read (a record outside a parent's subtree ends its children's link, so nothing after
a root record belongs to an earlier family): rows from the last root record on are held back
until then or the file's end, so the chunks' cut never splits a family. Memory holds one
chunk and the last family, which holds all its children's rows until it completes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from mfpipe.codec import DecodeOptions, DecodePlan, Reason
from mfpipe.codec.plan import PARENT_RECORD_NO
from mfpipe.codec.rejects import REJECT_SCHEMA, reject_batch
from mfpipe.codec.segments import NO_CARRY, Carry, Discriminators, ParentLink, segment_name
from mfpipe.errors import ConfigError
from mfpipe.framing import FramingOptions, RawChunk
from mfpipe.layout import RecordLayout
from mfpipe.pipeline.process import decode_records, link_chunk, records_of

RECORD_NO, BYTE_OFFSET, SOURCE_FILE = "_record_no", "_byte_offset", "_source_file"


@dataclass(frozen=True)
class Hierarchy:
    """A file's segments as a tree: every bound segment but one (the root) a ``--parent``
    child; each compiled as its own segment load."""

    root: str
    plans: dict[str, DecodePlan]  # top down: every parent before its children
    parent_of: dict[str, str]
    children: dict[str, tuple[str, ...]]
    discriminators: Discriminators

    @classmethod
    def compile(cls, record: RecordLayout, options: DecodeOptions) -> Hierarchy:
        """Check that the bound segments form one tree whose columns can nest, and compile
        every segment's plan (with all the checks of a segment load)."""
        if options.segment is not None:
            raise ConfigError("--nested converts every bound segment into one tree; "
                              f"--segment {options.segment} converts one: give one or the other")
        if not options.parents:
            raise ConfigError("--nested needs the hierarchy: --parent CHILD=PARENT for every "
                              "segment bound with --branch but the root")
        segments = tuple(dict.fromkeys(b.branch for b in options.branches))
        parent_of = {p.child: p.parent for p in options.parents}
        roots = [s for s in segments if s not in parent_of]
        if len(roots) != 1:
            raise ConfigError(f"--nested needs one root segment, every other one a --parent "
                              f"child; without a parent: {', '.join(roots)}")
        children = {s: tuple(c for c in segments if parent_of.get(c) == s) for s in segments}
        ordered, at = [], [roots[0]]
        while at:
            ordered += at
            at = [c for s in at for c in children[s]]
        plans = {s: DecodePlan.compile(record, replace(options, segment=s)) for s in ordered}
        for segment, below in children.items():
            names = [segment_name(c) for c in below]
            taken = set(plans[segment].schema.names) | {PARENT_RECORD_NO}
            clash = [n for n in names if n in taken or names.count(n) > 1]
            if clash:
                raise ConfigError(f"--nested: segment {segment}'s rows would hold a column "
                                  f"{clash[0]} twice (its own, or two child segments')")
        return cls(roots[0], plans, parent_of, children, Discriminators.of(record, options))

    def schema(self, provenance: bool) -> pa.Schema:
        """The nested rows' schema; with ``provenance`` every row and child says where it
        came from (``_record_no``, ``_byte_offset``; a row ``_source_file`` too)."""
        return pa.schema(self.fields(self.root, provenance, top=True))

    def fields(self, segment: str, provenance: bool, top: bool = False) -> list[pa.Field]:
        """The columns of ``segment``'s nested rows (``top``: the root's, the output's)."""
        own = [f for f in self.plans[segment].schema if f.name != PARENT_RECORD_NO]
        nested = [pa.field(segment_name(c), pa.list_(pa.struct(self.fields(c, provenance))))
                  for c in self.children[segment]]
        where = [pa.field(SOURCE_FILE, pa.string())] if top else []
        where += [pa.field(RECORD_NO, pa.int64()), pa.field(BYTE_OFFSET, pa.int64())]
        return own + nested + (where if provenance else [])


class Assembled(NamedTuple):
    """What one chunk (or the file's end) gives: the families it completed (None: none),
    how many records they hold, the chunk's rejects in record order, and invalid numerics
    written as NULL per column."""

    rows: pa.RecordBatch | None
    records: int
    rejects: pa.Table
    nulled: Counter[str]


class Nester:
    """Assembles one file's families, chunk by chunk in file order."""

    def __init__(self, hierarchy: Hierarchy, framing: FramingOptions, source: str,
                 provenance: bool) -> None:
        self.hierarchy, self.framing = hierarchy, framing
        self.source, self.provenance = source, provenance
        self.schema = hierarchy.schema(provenance)
        self.links = {s: ParentLink.of(p) for s, p in hierarchy.plans.items()}
        self.carries: dict[str, Carry] = {s: NO_CARRY for s in hierarchy.plans}
        self.position = {s: i for i, s in enumerate(hierarchy.discriminators.segments)}
        self.pending: dict[str, list[pa.RecordBatch]] = {s: [] for s in hierarchy.plans}
        self.last_root = 0  # record number of the last root record read

    def feed(self, chunk: RawChunk) -> Assembled:
        """Decode a chunk; give the families complete before its last root record."""
        root_plan = self.hierarchy.plans[self.hierarchy.root]
        matrix, lengths = records_of(root_plan, chunk, self.framing)
        first = chunk.first_record_no
        segment = self.hierarchy.discriminators.which(matrix, first, chunk.record_offsets,
                                                      lengths)
        rejects, nulled = [], Counter[str]()
        for name, plan in self.hierarchy.plans.items():
            mine = segment == self.position[name]
            link = self.links[name]
            linked = link_chunk(link, plan, chunk, self.framing, self.carries[name])
            if linked is None:  # the root: and the records of no segment, its rejects
                keep = mine | (segment < 0)
            else:
                self.carries[name] = linked.carry
                placed = (linked.parent_no == 0) | self._held(
                    self.hierarchy.parent_of[name], linked.parent_no)
                keep, lost = mine & placed, mine & ~placed
                if lost.any():
                    rejects.append(self._lost(plan, chunk, matrix, lengths, lost))
            decoded = decode_records(plan, chunk, self.framing, keep, linked)
            if decoded.elsewhere is not None and len(decoded.elsewhere):
                raise RuntimeError(f"segment {name}: records {decoded.elsewhere[:5].tolist()} "
                                   "are another segment's by its plan but not by the "
                                   "discriminators")  # a defect, never bad input
            rejects.append(decoded.rejects)
            nulled.update(dict(decoded.nulled))
            if not decoded.batch.num_rows:
                continue
            offsets = chunk.record_offsets[decoded.record_no - first]
            self.pending[name].append(decoded.batch.append_column(
                RECORD_NO, pa.array(decoded.record_no, pa.int64())).append_column(
                BYTE_OFFSET, pa.array(offsets, pa.int64())))
        roots = np.flatnonzero(segment == self.position[self.hierarchy.root])
        rows, records = None, 0
        if len(roots):  # the families before this chunk's last root record are complete
            self.last_root = first + int(roots[-1])
            rows, records = self._complete(self.last_root)
        in_order = pa.Table.from_batches(rejects, REJECT_SCHEMA).sort_by("record_no")
        return Assembled(rows, records, in_order, nulled)

    def finish(self) -> Assembled:
        """The last family, at the file's end."""
        rows, records = self._complete(None)
        return Assembled(rows, records, REJECT_SCHEMA.empty_table(), Counter())

    def _held(self, segment: str, wanted: np.ndarray) -> np.ndarray:
        """Which of ``wanted`` (record numbers) are rows of ``segment`` held back. Held rows
        are in record order, so only the newest batches that reach the numbers wanted are
        searched: a family of millions of children costs each chunk its own rows, not all
        the family's so far."""
        known = wanted[wanted > 0]
        if not len(known):
            return np.zeros(len(wanted), dtype=bool)
        lo, hi = int(known.min()), int(known.max())
        found = []
        for batch in reversed(self.pending[segment]):
            numbers = batch.column(RECORD_NO)
            if numbers[-1].as_py() < lo:
                break
            if numbers[0].as_py() <= hi:
                found.append(numbers.to_numpy())
        return np.isin(wanted, np.concatenate(found)) if found else \
            np.zeros(len(wanted), dtype=bool)

    def _lost(self, plan: DecodePlan, chunk: RawChunk, matrix: np.ndarray,
              lengths: np.ndarray | None, lost: np.ndarray) -> pa.RecordBatch:
        """Reject rows for children whose parent is a reject, named by their discriminator."""
        binding = plan.options.segment_binding
        assert binding is not None
        field = plan.record.field(binding.column)
        at = np.flatnonzero(lost)
        return reject_batch(chunk.first_record_no + at, chunk.record_offsets[at],
                            [field] * len(at), np.full(len(at), Reason.PARENT_REJECTED),
                            matrix[at], None if lengths is None else lengths[at])

    def _complete(self, before: int | None) -> tuple[pa.RecordBatch | None, int]:
        """The families whose root record precedes ``before`` (all when None), nested, and
        how many records they hold; the rest stays pending."""
        done: dict[str, pa.Table] = {}
        for name, batches in self.pending.items():
            table = pa.Table.from_batches(batches, batches[0].schema) if batches else None
            if table is None:
                continue
            if before is None:
                done[name], self.pending[name] = table, []
                continue
            early = np.asarray(table.column(RECORD_NO).to_numpy() < before)
            done[name] = table.filter(pa.array(early))
            self.pending[name] = table.filter(pa.array(~early)).to_batches()
        records = sum(t.num_rows for t in done.values())
        root = self.hierarchy.root
        if root not in done or not done[root].num_rows:
            if records:  # every child row has its parent among the rows
                raise RuntimeError("nested rows without their root record")
            return None, 0
        arrays = self._assembled(root, done, top=True)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema), records

    def _assembled(self, segment: str, done: dict[str, pa.Table], top: bool = False
                   ) -> list[pa.Array]:
        """The columns of ``segment``'s rows, each with its children's lists."""
        table = done[segment]
        own = [table.column(f.name).combine_chunks()
               for f in self.hierarchy.plans[segment].schema if f.name != PARENT_RECORD_NO]
        numbers = table.column(RECORD_NO).to_numpy()
        nested = []
        for child in self.hierarchy.children[segment]:
            fields = self.hierarchy.fields(child, self.provenance)
            if child in done and done[child].num_rows:
                owner = done[child].column(PARENT_RECORD_NO).to_numpy()
                if not np.isin(owner, numbers).all():
                    raise RuntimeError(f"segment {child}: rows whose parent is not among "
                                       f"{segment}'s rows")  # a defect, never bad input
                offsets = np.append(np.searchsorted(owner, numbers, "left"), len(owner))
                values = pa.StructArray.from_arrays(self._assembled(child, done), fields=fields)
            else:
                offsets = np.zeros(len(numbers) + 1, dtype=np.int64)
                values = pa.array([], pa.struct(fields))
            nested.append(pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values))
        where: list[pa.Array] = []
        if self.provenance:
            if top:
                where.append(pa.repeat(pa.scalar(self.source, pa.string()), len(numbers)))
            where += [table.column(RECORD_NO).combine_chunks(),
                      table.column(BYTE_OFFSET).combine_chunks()]
        return own + nested + where
