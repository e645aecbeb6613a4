"""A decode plan: a record layout compiled once into decoders, then applied chunk after chunk.

The plan is picklable (frozen fields and module-level decoder functions), so processor
processes receive it once. ``decode`` takes a chunk as a [records, bytes] matrix and returns
the valid rows as an Arrow record batch plus one reject row per bad record, naming the first
bad field, its offset and the reason; the rest of the chunk decodes.

Three things make a value NULL instead of a reject: the field lies beyond a short record's
end; it is an OCCURS DEPENDING ON element past the record's count; or it lies in a REDEFINES
branch that does not apply to the record (by its discriminator, or, where no discriminator is
bound, because overlaid storage is expected to be invalid under the other reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mfpipe.codec.charsets import charset
from mfpipe.codec.dates import to_dates
from mfpipe.codec.odo import OdoShift
from mfpipe.codec.options import Branch, DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.codec.registry import Decoder, select_decoder
from mfpipe.codec.rejects import empty_rejects, reject_batch
from mfpipe.errors import ConfigError
from mfpipe.layout import Category, Field, RecordLayout

if TYPE_CHECKING:
    from mfpipe.codec.segments import Linked

PARENT_RECORD_NO = "parent_record_no"


class DecodedBatch(NamedTuple):
    """One decoded chunk: valid rows, their record numbers, and the rejects."""

    batch: pa.RecordBatch
    record_no: np.ndarray  # int64, 1-based record numbers of the rows in ``batch``
    rejects: pa.RecordBatch  # see ``mfpipe.codec.rejects.REJECT_SCHEMA``
    # (column, fields): invalid numerics loaded as NULL (``invalid_numeric="null"``) in the
    # rows of ``batch``
    nulled: tuple[tuple[str, int], ...] = ()
    # a segment load: record numbers of the records of other segments (neither rows nor
    # rejects here: they are their own segment's)
    elsewhere: np.ndarray | None = None


@dataclass(frozen=True)
class _Column:
    field: Field
    decoder: Decoder
    date_format: str | None


@dataclass(frozen=True)
class DecodePlan:
    """Compiled decoders for one record layout and one set of decode options."""

    record: RecordLayout
    options: DecodeOptions
    columns: tuple[_Column, ...]

    @classmethod
    def compile(cls, record: RecordLayout, options: DecodeOptions | None = None) -> DecodePlan:
        """Choose every field's decoder and check the options against the layout."""
        options = options or DecodeOptions()
        dates = options.date_formats
        known = {f.column for f in record.fields}
        for column in [*dates, *(b.column for b in options.branches), *options.required]:
            if column not in known:
                raise ConfigError(f"option names column {column!r}, which record {record.name} "
                                  "does not have")
        for binding in options.branches:
            if binding.branch not in record.redefine_branches:
                branches = ", ".join(record.redefine_branches)
                raise ConfigError(f"{binding.branch!r} is not a REDEFINES branch of "
                                  f"{record.name} (branches: {branches})")
        if options.segment is not None and options.segment_binding is None:
            raise ConfigError(f"segment {options.segment}: not a branch bound with --branch "
                              f"(bound: {', '.join(b.branch for b in options.branches) or 'none'})")
        columns = tuple(_Column(f, select_decoder(f), dates.get(f.column))
                        for f in record.fields if in_segment(f, options))
        plan = cls(record, options, columns)
        plan._check_segment()
        for binding in options.branches:
            plan._check_binding(binding)
        plan._check_parents()
        return plan

    def _check_segment(self) -> None:
        """A segment load's key columns are its own, no value of its discriminator selects
        another segment too, and the counts of its variable tables are its own (a table whose
        count lies in another segment cannot be measured)."""
        segment = self.options.segment
        if segment is None:
            return
        mine = {c.field.column for c in self.columns}
        for column in self.options.required:
            if column not in mine:
                raise ConfigError(f"key column {column} is not a column of segment {segment} "
                                  f"(its columns: {', '.join(sorted(mine))})")
        binding = self.options.segment_binding
        assert binding is not None  # compile checked it
        for other in self.options.branches:
            shared = set(other.values) & set(binding.values) if other.column == \
                binding.column and other.branch != segment else set()
            if shared:
                raise ConfigError(f"--branch {other.branch} and --branch {segment}: "
                                  f"{binding.column} {', '.join(sorted(shared))} selects both, "
                                  "so its records would be in two segments' tables")
        for table in self.record.odo:
            if table.count_column not in mine:
                raise ConfigError(f"segment {segment}: the count {table.count_column} of a "
                                  "variable table (OCCURS DEPENDING ON) lies in another "
                                  "segment; such a layout cannot be loaded by segment")

    def _check_parents(self) -> None:
        """Parents name bound segments, one parent per child, no segment its own ancestor;
        they apply to segment loads; the discriminator and the key a child carries are
        fields of its parent's records before any variable table (whose place does not
        move); the carried columns' names are free and distinct."""
        bound = {b.branch for b in self.options.branches}
        parent_of: dict[str, str] = {}
        for each in self.options.parents:
            said = f"--parent {each.child}={each.parent}"
            for name in (each.child, each.parent):
                if name not in bound:
                    raise ConfigError(f"{said}: {name} is not a branch bound with --branch")
            if each.child in parent_of:
                raise ConfigError(f"{said}: {each.child} has a parent already "
                                  f"({parent_of[each.child]})")
            parent_of[each.child] = each.parent
            if len(set(each.key)) != len(each.key):
                raise ConfigError(f"{said}: a key column is named twice")
        for child in parent_of:
            seen, at = {child}, child
            while at in parent_of:
                at = parent_of[at]
                if at in seen:
                    raise ConfigError(f"--parent: {child} is its own ancestor (a segment's "
                                      "parents must lead to a root segment)")
                seen.add(at)
        if parent_of and self.options.segment is None:
            raise ConfigError("--parent links the segments of segment loads: give --segment "
                              "or --segments")
        link = self.options.parent
        if link is None:
            return
        binding = next(b for b in self.options.branches if b.branch == link.parent)
        parents = DecodeOptions(branches=self.options.branches, segment=link.parent)
        for column in (binding.column, *link.key):
            f = next((f for f in self.record.fields if f.column == column), None)
            if f is None or not in_segment(f, parents) or f.odo is not None or any(
                    f.offset >= t.offset for t in self.record.odo):
                raise ConfigError(f"--parent {link.child}={link.parent}: {column} is not a "
                                  f"field of {link.parent}'s records before any OCCURS "
                                  "DEPENDING ON table")
        taken = {c.field.column for c in self.columns} & {f.name for f in self.link_fields}
        if taken:
            raise ConfigError(f"--parent {link.child}={link.parent}: the layout has a field "
                              f"named {', '.join(sorted(taken))} already")

    @property
    def link_fields(self) -> list[pa.Field]:
        """The columns a child segment's rows carry of their parent (none otherwise)."""
        link = self.options.parent
        if link is None:
            return []
        dates = self.options.date_formats
        return [pa.field(PARENT_RECORD_NO, pa.int64()), *(
            pa.field(f"parent_{column}", pa.date32() if column in dates
                     else self.record.field(column).arrow_field.type)
            for column in link.key)]

    def _check_binding(self, binding: Branch) -> None:
        """A discriminator is decoded before the branch it selects, lies outside it, and
        its values are values of its type (checked now, not in a processor)."""
        fields = self.record.fields
        position = next(i for i, f in enumerate(fields) if f.column == binding.column)
        first = min(i for i, f in enumerate(fields) if binding.branch in f.redefines)
        if binding.branch in fields[position].redefines or position > first:
            raise ConfigError(f"--branch {binding.branch}: the discriminator {binding.column} "
                              "must come before the branch, outside it")
        try:
            branch_applies(pa.nulls(0, self.schema.field(binding.column).type), binding.values)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise ConfigError(f"--branch {binding.branch}: {', '.join(binding.values)} are not "
                              f"values of {binding.column} "
                              f"({self.schema.field(binding.column).type})") from None

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of decoded batches (date columns become date32)."""
        return pa.schema([pa.field(c.field.column, pa.date32()) if c.date_format
                          else c.field.arrow_field for c in self.columns] + self.link_fields)

    def decode(self, matrix: np.ndarray, first_record_no: int | np.ndarray,
               byte_offsets: np.ndarray, lengths: np.ndarray | None = None,
               exact: bool = False, too_long: bool = False,
               linked: Linked | None = None) -> DecodedBatch:
        """Decode a chunk; ``first_record_no``: the first record's number, or every
        record's (a chunk some records of which were left out); ``lengths`` is given for
        variable-length records. ``exact``: a record of another length than the layout's
        (longer only, for a layout with OCCURS DEPENDING ON) is a reject, named by the last
        field. ``too_long``: a variable-length record longer than the layout (at its
        maximum) is a reject, never a record whose last bytes are dropped. ``linked``: a
        child segment's parent of each record (:mod:`mfpipe.codec.segments`); a record with
        none before it is a reject."""
        n = matrix.shape[0]
        if matrix.shape[1] < self.record.size:
            matrix = _pad(matrix, self.record.size)
        if lengths is not None and (lengths < self.record.size).any():
            # past a short record's end: spaces, as in a record area a program reads it into
            # (a text field the record ends inside keeps its bytes; numbers there are rejects)
            past = np.arange(matrix.shape[1])[None, :] >= lengths[:, None]
            matrix = np.where(past, np.uint8(charset(self.options.encoding).space), matrix)
        odo = OdoShift.measure(self, matrix) if self.record.odo else None
        original = matrix  # reject rows show the record's own bytes, not the shifted ones
        if odo is not None and self.options.odo == "variable":
            matrix = odo.normalize(matrix)
        decoded: dict[str, pa.Array] = {}
        nulled: dict[str, np.ndarray] = {}
        first_bad = np.full(n, -1, dtype=np.int64)
        first_reason = np.zeros(n, dtype=np.uint8)
        if exact and lengths is not None:
            size = self.record.size
            misfit = lengths > size if self.record.odo else lengths != size
            _note(first_bad, first_reason, misfit, len(self.columns) - 1, Reason.LENGTH)
        elif too_long and lengths is not None:
            _note(first_bad, first_reason, lengths > self.record.size, len(self.columns) - 1,
                  Reason.TOO_LONG)
        if odo is not None:
            _note(first_bad, first_reason, odo.bad_count,
                  self._index(self.record.odo[0].count_column), Reason.ODO_COUNT)
        for index, column in enumerate(self.columns):
            f = column.field
            raw = matrix[:, f.offset:f.offset + f.size]
            result = column.decoder(raw, f, self.options)
            if column.date_format:
                result = to_dates(raw, result, f, column.date_format, self.options)
            absent = self._absent(f, n, lengths, odo, decoded)
            if lengths is not None and not self._partial_text_kept(f):
                # a record that ends inside a number (or UTF-16 text) lost part of it
                begin, end = self._extent(f, odo)
                cut = (lengths > begin) & (lengths < end)
                elsewhere = self._absent(f, n, None, odo, decoded)  # past the count, branch
                if elsewhere is not None:
                    cut &= ~elsewhere
                _note(first_bad, first_reason, cut, index, Reason.TRUNCATED)
            decoded[f.column] = _null_where(result.values, absent)
            if f.column in self.options.required:
                _note(first_bad, first_reason, np.asarray(decoded[f.column].is_null()), index,
                      Reason.REQUIRED_EMPTY)
            if result.reasons is not None:
                reasons: np.ndarray | None = result.reasons
                if absent is not None:
                    reasons = np.where(absent, 0, result.reasons)
                if f.redefines and not self._bound(f):
                    reasons = None  # unbound overlay: invalid bytes read as NULL, not a reject
                    decoded[f.column] = _null_where(decoded[f.column], result.reasons != 0)
                elif reasons is not None and self._nulls_invalid(f):
                    nulled[f.column] = reasons != 0
                    decoded[f.column] = _null_where(decoded[f.column], nulled[f.column])
                    reasons = None
                if reasons is not None:
                    _note(first_bad, first_reason, reasons != 0, index, reasons)
        elsewhere = self._elsewhere(decoded, first_bad, first_reason)
        binding = self.options.segment_binding
        if self.options.parent is not None and binding is not None:
            if linked is None:
                raise ValueError("a child segment's records decode with their parents")
            orphan = linked.parent_no == 0
            _note(first_bad, first_reason, orphan, self._index(binding.column),
                  Reason.NO_PARENT)
            decoded[PARENT_RECORD_NO] = pa.array(linked.parent_no, pa.int64())
            for f, values in zip(self.link_fields[1:], linked.keys):
                decoded[f.name] = values
        out = self._split(decoded, first_bad, first_reason, original, first_record_no,
                          byte_offsets, lengths, elsewhere)
        kept = first_bad < 0  # a record rejected for another field is not counted here,
        if elsewhere is not None:  # nor one of another segment
            kept &= ~elsewhere
        counts = tuple((column, int((mask & kept).sum())) for column, mask in nulled.items())
        return out._replace(nulled=tuple((c, k) for c, k in counts if k))

    def _index(self, column: str) -> int:
        """The position of ``column`` among the plan's columns (for reject reasons)."""
        return next((i for i, c in enumerate(self.columns) if c.field.column == column), 0)

    def _elsewhere(self, decoded: dict[str, pa.Array], first_bad: np.ndarray,
                   first_reason: np.ndarray) -> np.ndarray | None:
        """A segment load: the records of the other bound segments. A record whose
        discriminator does not decode, or matches no bound segment, is a reject of this
        load (as of every other segment's): bad data is never taken for another record
        type, and a record of no segment is never silently in no table."""
        binding = self.options.segment_binding
        if binding is None:
            return None
        discriminator = decoded[binding.column]
        others = np.zeros(len(first_bad), dtype=bool)
        for other in self.options.branches:
            if other.column == binding.column and other.branch != binding.branch:
                others |= branch_applies(discriminator, other.values)
        position = self._index(binding.column)
        valid = first_bad != position
        mine = branch_applies(discriminator, binding.values)
        _note(first_bad, first_reason, valid & ~mine & ~others, position, Reason.NO_SEGMENT)
        return others & ~mine & valid

    def _partial_text_kept(self, f: Field) -> bool:
        """Does a text field a short record ends inside keep its bytes? Not a key: part of
        a key would merge into another row."""
        return f.category is Category.ALPHANUMERIC and f.column not in self.options.required

    def _nulls_invalid(self, f: Field) -> bool:
        """Does an invalid value of ``f`` load as NULL (``invalid_numeric="null"``)? Never
        for a required column (a key): there NULL is a reject of its own."""
        return (self.options.invalid_numeric == "null" and f.column not in self.options.required
                and f.column not in self.options.date_formats  # a bad date stays a reject
                and f.category in (Category.NUMERIC, Category.NUMERIC_EDITED, Category.FLOAT))

    def _extent(self, f: Field, odo: OdoShift | None) -> tuple[int | np.ndarray, int | np.ndarray]:
        """Where ``f`` begins and ends in each record (after the variable tables before it)."""
        shift = (odo.shift_at(f.offset) if odo is not None and self.options.odo == "variable"
                 else 0)
        return f.offset - shift, f.offset + f.size - shift

    def _bound(self, f: Field) -> bool:
        bound = {b.branch for b in self.options.branches}
        return all(branch in bound for branch in f.redefines)

    def _absent(self, f: Field, n: int, lengths: np.ndarray | None, odo: OdoShift | None,
                decoded: dict[str, pa.Array]) -> np.ndarray | None:
        """Records where the field is not there: short record, past the ODO count, other branch."""
        absent = None
        if lengths is not None:  # text the record ends inside is there, in part
            begin, end = self._extent(f, odo)
            short = lengths <= begin if self._partial_text_kept(f) else lengths < end
            absent = short if short.any() else None
        if odo is not None and f.odo is not None:
            unused = odo.unused(f)
            absent = unused if absent is None else absent | unused
        for binding in self.options.branches:
            if binding.branch in f.redefines:
                other = ~branch_applies(decoded[binding.column], binding.values)
                absent = other if absent is None else absent | other
        return absent

    def _split(self, decoded: dict[str, pa.Array], first_bad: np.ndarray,
               first_reason: np.ndarray, matrix: np.ndarray,
               first_record_no: int | np.ndarray, byte_offsets: np.ndarray,
               lengths: np.ndarray | None, elsewhere: np.ndarray | None) -> DecodedBatch:
        n = matrix.shape[0]
        record_no = (np.arange(first_record_no, first_record_no + n, dtype=np.int64)
                     if isinstance(first_record_no, int) else first_record_no)
        arrays = [decoded[c.field.column] for c in self.columns] + [
            decoded[f.name] for f in self.link_fields]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        bad = first_bad >= 0
        others = None
        if elsewhere is not None:
            others, bad = record_no[elsewhere], bad & ~elsewhere
        good = ~bad if elsewhere is None else ~bad & ~elsewhere
        if not bad.any():
            rows = batch if good.all() else batch.filter(pa.array(good))
            return DecodedBatch(rows, record_no[good], empty_rejects(), elsewhere=others)
        fields = [self.columns[i].field for i in first_bad[bad]]
        rejects = reject_batch(record_no[bad], byte_offsets[bad], fields, first_reason[bad],
                               matrix[bad], None if lengths is None else lengths[bad])
        return DecodedBatch(batch.filter(pa.array(good)), record_no[good], rejects,
                            elsewhere=others)


def in_segment(f: Field, options: DecodeOptions) -> bool:
    """Is ``f`` a column of the load: outside every bound branch, or in the segment's own
    (every field is, when the load is not a segment's)?"""
    if options.segment is None:
        return True
    bound = {b.branch for b in options.branches}
    return all(branch == options.segment for branch in f.redefines if branch in bound)


def _note(first_bad: np.ndarray, first_reason: np.ndarray, failed: np.ndarray, index: int,
          reason: np.ndarray | int) -> None:
    """Remember the first failing field of each record (fields are visited in order)."""
    new = failed & (first_bad < 0)
    first_bad[new] = index
    first_reason[new] = reason[new] if isinstance(reason, np.ndarray) else reason


def _null_where(values: pa.Array, mask: np.ndarray | None) -> pa.Array:
    if mask is None or not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.nulls(len(values), values.type), values)


def branch_applies(discriminator: pa.Array, values: tuple[str, ...]) -> np.ndarray:
    """Which values of ``discriminator`` are among a binding's ``values`` (bool each)."""
    choices = pa.array(values).cast(discriminator.type) if not pa.types.is_string(
        discriminator.type) else pa.array(values)
    return np.asarray(pc.is_in(discriminator, value_set=choices).fill_null(False))


def _pad(matrix: np.ndarray, width: int) -> np.ndarray:
    padded = np.zeros((matrix.shape[0], width), dtype=np.uint8)
    padded[:, :matrix.shape[1]] = matrix
    return padded
