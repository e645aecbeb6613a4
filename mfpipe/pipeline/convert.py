"""``mfpipe convert``: a mainframe file into Parquet or JSON Lines, no database involved.

Output and rejects (``OUT.rejects.jsonl``) are written to temporary files beside the target
and renamed into place only when the whole input has been read, so a failed conversion never
leaves a half-written file that looks complete.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.codec.segments import ParentLink
from mfpipe.errors import ConfigError, OutputError
from mfpipe.framing import FramingOptions, RawChunk, iter_chunks
from mfpipe.layout import RecordLayout
from mfpipe.pipeline.process import (check_framing, decode_chunk, records_per_chunk,
                                     with_carries)
from mfpipe.pipeline.source import open_input, release_spool


@dataclass(frozen=True)
class ConvertResult:
    """Counts of one conversion; ``read == written + rejected + other_segments`` always
    holds (``other_segments``: with ``--segment``, the records of the other segments)."""

    input: str
    output: str
    rejects_path: str
    read: int
    written: int
    rejected: int
    elapsed_s: float
    nulled: dict[str, int] = field(default_factory=dict)  # invalid numerics written as NULL
    other_segments: int = 0


def rejects_path_for(output: str | Path) -> Path:
    """``out.parquet`` -> ``out.rejects.jsonl``."""
    target = Path(output)
    return target.with_name(target.name.rsplit(".", 1)[0] + ".rejects.jsonl")


def convert_file(record: RecordLayout, source: str | Path, output: str | Path,
                 framing: FramingOptions, options: DecodeOptions | None = None,
                 chunk_records: int = 50_000, *, provenance: bool = False) -> ConvertResult:
    """Decode ``source`` chunk by chunk into ``output`` (.parquet or .jsonl); with
    ``provenance``, every row also says where it came from: ``_source_file``,
    ``_record_no`` and ``_byte_offset`` (of the record's data in the file; layout columns
    never start with an underscore, so these never collide with one)."""
    target = Path(output)
    kind = target.suffix.lower()
    if kind not in (".parquet", ".jsonl"):
        raise ConfigError(f"output {target} must end in .parquet or .jsonl")
    check_framing(record, framing)
    plan = DecodePlan.compile(record, options)
    link = ParentLink.of(plan)
    rejects_target = rejects_path_for(target)
    OutputError.check(target)
    started = time.perf_counter()
    read = written = rejected = others = 0
    nulled: Counter[str] = Counter()
    temporary = [target.with_name(f".{target.name}.part"),
                 rejects_target.with_name(f".{rejects_target.name}.part")]
    try:
        with ExitStack() as stack:
            buffer = stack.enter_context(open_input(source))
            schema = plan.schema.append(pa.field("_source_file", pa.string())).append(
                pa.field("_record_no", pa.int64())).append(
                pa.field("_byte_offset", pa.int64())) if provenance else plan.schema
            sink = _open_sink(stack, kind, temporary[0], schema)
            reject_file = stack.enter_context(open(temporary[1], "w", encoding="utf-8"))
            per_chunk = records_per_chunk(chunk_records, max(record.size, framing.lrecl or 0))
            chunks = ((c, 0) for c in iter_chunks(buffer, framing, per_chunk, str(source)))
            for chunk, _, carry in with_carries(chunks, plan, framing):
                decoded = decode_chunk(plan, chunk, framing, carry=carry, link=link)
                sink(_with_provenance(decoded.batch, str(source), decoded.record_no,
                                      chunk) if provenance else decoded.batch)
                _write_jsonl(reject_file, decoded.rejects)
                read += chunk.n_records
                written += decoded.batch.num_rows
                rejected += decoded.rejects.num_rows
                others += 0 if decoded.elsewhere is None else len(decoded.elsewhere)
                nulled.update(dict(decoded.nulled))
        os.replace(temporary[0], target)
        os.replace(temporary[1], rejects_target)
    except OSError as exc:  # the input's errors are InputErrors already: this is the output
        raise OutputError.of(target, exc) from None
    finally:
        for part in temporary:
            part.unlink(missing_ok=True)
        release_spool(source)  # a compressed input's decompressed copy
    return ConvertResult(str(source), str(target), str(rejects_target), read, written, rejected,
                         round(time.perf_counter() - started, 3), dict(nulled), others)


def _with_provenance(batch: pa.RecordBatch, source: str, record_no: np.ndarray,
                     chunk: RawChunk) -> pa.RecordBatch:
    offsets = chunk.record_offsets[record_no - chunk.first_record_no]
    n = batch.num_rows
    where = [pa.array([source], pa.string()).take(pa.array(np.zeros(n, dtype=np.int64))),
             pa.array(record_no, pa.int64()), pa.array(offsets, pa.int64())]
    return pa.RecordBatch.from_arrays([*batch.columns, *where],
                                      names=[*batch.schema.names, "_source_file",
                                             "_record_no", "_byte_offset"])


def _open_sink(stack: ExitStack, kind: str, path: Path, schema: pa.Schema):
    if kind == ".parquet":
        writer = stack.enter_context(pq.ParquetWriter(path, schema))
        return writer.write_batch
    handle = stack.enter_context(open(path, "w", encoding="utf-8"))
    return lambda batch: _write_jsonl(handle, batch)


def _write_jsonl(handle: IO[str], batch: pa.RecordBatch) -> None:
    """One JSON object per row; decimals as exact strings, dates as ISO text."""
    for row in batch.to_pylist():
        handle.write(json.dumps(row, default=_json_value, ensure_ascii=False) + "\n")


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # 0.0000000, not str()'s 0E-7
    return value.isoformat()
