"""``mfpipe convert``: a mainframe file into Parquet or JSON Lines, no database involved.

Output and rejects (``OUT.rejects.jsonl``) are written to temporary files beside the target
and renamed into place only when the whole input has been read, so a failed conversion never
leaves a half-written file that looks complete.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.codec.segments import NO_CARRY, ParentLink
from mfpipe.errors import ConfigError, OutputError
from mfpipe.framing import FramingOptions, RawChunk, iter_chunks
from mfpipe.layout import RecordLayout
from mfpipe.pipeline.jsonlines import write_jsonl
from mfpipe.pipeline.nesting import BYTE_OFFSET, RECORD_NO, SOURCE_FILE, Hierarchy, Nester
from mfpipe.pipeline.process import check_framing, decode_records, link_chunk, records_per_chunk
from mfpipe.pipeline.source import open_input, release_spool


@dataclass(frozen=True)
class ConvertResult:
    """Counts of one conversion; ``read == written + rejected + other_segments`` always
    holds (``other_segments``: with ``--segment``, the records of the other segments;
    ``rows``: the output's rows, which with ``--nested`` hold ``written`` records)."""

    input: str
    output: str
    rejects_path: str
    read: int
    written: int
    rejected: int
    elapsed_s: float
    nulled: dict[str, int] = field(default_factory=dict)  # invalid numerics written as NULL
    other_segments: int = 0
    rows: int = 0
    nested: bool = False


class _Piece(NamedTuple):
    """What one chunk gives the output: rows, the records they hold, rejects, invalid
    numerics written as NULL, and the records of other segments."""

    rows: pa.RecordBatch | None
    records: int
    rejects: pa.RecordBatch | pa.Table
    nulled: Mapping[str, int]
    others: int = 0


def rejects_path_for(output: str | Path) -> Path:
    """``out.parquet`` -> ``out.rejects.jsonl``."""
    target = Path(output)
    return target.with_name(target.name.rsplit(".", 1)[0] + ".rejects.jsonl")


def convert_file(record: RecordLayout, source: str | Path, output: str | Path,
                 framing: FramingOptions, options: DecodeOptions | None = None,
                 chunk_records: int = 50_000, *, provenance: bool = False,
                 nested: bool = False) -> ConvertResult:
    """Decode ``source`` chunk by chunk into ``output`` (.parquet or .jsonl); with
    ``provenance``, every row also says where it came from: ``_source_file``,
    ``_record_no`` and ``_byte_offset`` (of the record's data in the file; layout columns
    never start with an underscore, so these never collide with one). ``nested``: a
    hierarchical file's root records, each with its children inside it
    (:mod:`mfpipe.pipeline.nesting`)."""
    target = Path(output)
    kind = target.suffix.lower()
    if kind not in (".parquet", ".jsonl"):
        raise ConfigError(f"output {target} must end in .parquet or .jsonl")
    check_framing(record, framing)
    options = options or DecodeOptions()
    if nested:
        hierarchy = Hierarchy.compile(record, options)
        schema = hierarchy.schema(provenance)
    else:
        plan = DecodePlan.compile(record, options)
        schema = plan.schema.append(pa.field(SOURCE_FILE, pa.string())).append(
            pa.field(RECORD_NO, pa.int64())).append(
            pa.field(BYTE_OFFSET, pa.int64())) if provenance else plan.schema
    rejects_target = rejects_path_for(target)
    OutputError.check(target)
    started = time.perf_counter()
    read = written = rejected = others = rows = 0
    nulled: Counter[str] = Counter()
    temporary = [target.with_name(f".{target.name}.part"),
                 rejects_target.with_name(f".{rejects_target.name}.part")]
    try:
        with ExitStack() as stack:
            buffer = stack.enter_context(open_input(source))
            sink = _open_sink(stack, kind, temporary[0], schema)
            reject_file = stack.enter_context(open(temporary[1], "wb"))
            per_chunk = records_per_chunk(chunk_records, max(record.size, framing.lrecl or 0))
            chunks = iter_chunks(buffer, framing, per_chunk, str(source))
            pieces = _nested(Nester(hierarchy, framing, str(source), provenance), chunks) \
                if nested else _flat(plan, chunks, framing, str(source) if provenance else None)
            for chunk, piece in pieces:
                if piece.rows is not None and piece.rows.num_rows:
                    sink(piece.rows)
                    rows += piece.rows.num_rows
                write_jsonl(reject_file, piece.rejects)
                read += chunk.n_records if chunk is not None else 0
                written += piece.records
                rejected += piece.rejects.num_rows
                others += piece.others
                nulled.update(piece.nulled)
        os.replace(temporary[0], target)
        os.replace(temporary[1], rejects_target)
    except OSError as exc:  # the input's errors are InputErrors already: this is the output
        raise OutputError.of(target, exc) from None
    finally:
        for part in temporary:
            part.unlink(missing_ok=True)
        release_spool(source)  # a compressed input's decompressed copy
    return ConvertResult(str(source), str(target), str(rejects_target), read, written, rejected,
                         round(time.perf_counter() - started, 3), dict(nulled), others, rows,
                         nested)


def _flat(plan: DecodePlan, chunks: Iterable[RawChunk], framing: FramingOptions,
          source: str | None) -> Iterator[tuple[RawChunk, _Piece]]:
    """One row per record (``source``: with provenance), each chunk linked once."""
    link, carry = ParentLink.of(plan), NO_CARRY
    for chunk in chunks:
        linked = link_chunk(link, plan, chunk, framing, carry)
        carry = carry if linked is None else linked.carry
        decoded = decode_records(plan, chunk, framing, linked=linked)
        batch = decoded.batch if source is None else _with_provenance(
            decoded.batch, source, decoded.record_no, chunk)
        yield chunk, _Piece(batch, batch.num_rows, decoded.rejects, dict(decoded.nulled),
                            0 if decoded.elsewhere is None else len(decoded.elsewhere))


def _nested(nester: Nester, chunks: Iterable[RawChunk]
            ) -> Iterator[tuple[RawChunk | None, _Piece]]:
    """Each root record with its children; the last family at the end (no chunk)."""
    for chunk in chunks:
        yield chunk, _Piece(*nester.feed(chunk))
    yield None, _Piece(*nester.finish())


def _with_provenance(batch: pa.RecordBatch, source: str, record_no: np.ndarray,
                     chunk: RawChunk) -> pa.RecordBatch:
    offsets = chunk.record_offsets[record_no - chunk.first_record_no]
    n = batch.num_rows
    where = [pa.repeat(pa.scalar(source, pa.string()), n),
             pa.array(record_no, pa.int64()), pa.array(offsets, pa.int64())]
    return pa.RecordBatch.from_arrays([*batch.columns, *where],
                                      names=[*batch.schema.names, SOURCE_FILE, RECORD_NO,
                                             BYTE_OFFSET])


def _open_sink(stack: ExitStack, kind: str, path: Path, schema: pa.Schema):
    if kind == ".parquet":
        # zstd, dictionary pages only for the file name repeated on every row: on 1M records
        # of customer.cpy, writing took 0.41 s for 29.5 MB against 0.57 s for 39.2 MB with
        # pyarrow's defaults (snappy, dictionaries on every column); see benchmarks/RESULTS.md
        writer = stack.enter_context(pq.ParquetWriter(
            path, schema, compression="zstd",
            use_dictionary=[SOURCE_FILE] if SOURCE_FILE in schema.names else False))
        return writer.write_batch
    handle = stack.enter_context(open(path, "wb"))
    return lambda batch: write_jsonl(handle, batch)
