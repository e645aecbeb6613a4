"""Sample files for any layout: realistic records, optionally with known corrupted ones.

``mfpipe gen``, ``mfpipe demo``, the end-to-end tests and the benchmarks write their input
here, through the project's own encoder, so a decoded file can be checked value by value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfpipe.codec import DecodeOptions, charset
from mfpipe.codec.encode import encode_records
from mfpipe.codec.odo import compact
from mfpipe.codec.synth import synthesize
from mfpipe.errors import ConfigError, OutputError
from mfpipe.framing import FramingOptions, write_records
from mfpipe.layout import Category, Field, RecordLayout, Usage
from mfpipe.pipeline.process import check_framing

_BLOCK = 100_000  # records generated at a time, so memory stays flat for any N


@dataclass(frozen=True)
class SampleFile:
    """What was written: record count, bytes, and which records were corrupted (1-based)."""

    path: str
    records: int
    size: int
    bad_records: tuple[int, ...]
    bad_columns: tuple[str, ...]


def corruptible(record: RecordLayout) -> list[Field]:
    """Fields whose bytes can be made invalid and are always present: packed and zoned numbers."""
    counters = {f.odo.count_column for f in record.fields if f.odo is not None}
    return [f for f in record.fields
            if f.category is Category.NUMERIC and f.usage in (Usage.COMP_3, Usage.DISPLAY)
            and not f.redefines and f.odo is None and f.column not in counters]


def generate_file(record: RecordLayout, path: str | Path, n: int, framing: FramingOptions,
                  options: DecodeOptions | None = None, bad: int = 0, seed: int = 0, *,
                  unique: tuple[str, ...] = ()) -> SampleFile:
    """Write ``n`` records (``bad`` of them corrupted) to ``path`` in the given record format;
    the ``unique`` columns count up from 1 (a key the file holds once per record)."""
    options = options or DecodeOptions()
    check_framing(record, framing)
    for column in unique:
        f = record.field(column)
        if f.category not in (Category.NUMERIC, Category.ALPHANUMERIC) or f.redefining:
            raise ConfigError(f"--unique {column}: only a numeric or text field can count up")
        if len(str(n)) > (f.digits - f.scale if f.category is Category.NUMERIC else f.size):
            raise ConfigError(f"--unique {column}: {f.name} cannot hold {n} distinct values")
    if not 0 <= bad <= n:
        raise ConfigError(f"--bad {bad} must be between 0 and the record count {n}")
    if bad and not corruptible(record):
        raise ConfigError(f"record {record.name} has no packed or zoned field to corrupt")
    OutputError.check(path, "sample file")
    try:
        return _write(record, path, n, framing, options, bad, seed, unique)
    except OSError as exc:
        raise OutputError.of(path, exc) from None


def _write(record: RecordLayout, path: str | Path, n: int, framing: FramingOptions,
           options: DecodeOptions, bad: int, seed: int, unique: tuple[str, ...]
           ) -> SampleFile:
    """The sample, a block of records at a time (memory stays flat whatever ``n``)."""
    targets = corruptible(record)
    rng = np.random.default_rng(seed)
    bad_at = np.sort(rng.choice(n, size=bad, replace=False)) if bad else np.zeros(0, np.int64)
    bad_fields = rng.integers(0, max(len(targets), 1), bad)
    size = 0
    with open(path, "wb") as out:
        for start in range(0, n, _BLOCK):
            count = min(_BLOCK, n - start)
            values = synthesize(record, count, seed + start, options)
            for column in unique:  # 1, 2, 3, ...: as numbers, or zero-padded text
                f = record.field(column)
                keys = np.arange(start + 1, start + count + 1, dtype=np.int64)
                values[f.column] = (keys * 10**f.scale if f.category is Category.NUMERIC
                                    else np.char.zfill(keys.astype(str), f.size))
            rows, lengths = _block(record, values, count, options, framing)
            in_block = (bad_at >= start) & (bad_at < start + count)
            for row, field_index in zip(bad_at[in_block] - start, bad_fields[in_block]):
                _corrupt(rows[row], targets[field_index], options)
            data = write_records(rows, lengths, framing)
            out.write(data)
            size += len(data)
    return SampleFile(str(path), n, size, tuple(int(i) + 1 for i in bad_at),
                      tuple(targets[i].column for i in bad_fields))


def _block(record: RecordLayout, values: dict, n: int, options: DecodeOptions,
           framing: FramingOptions) -> tuple[np.ndarray, np.ndarray | None]:
    rows = encode_records(record, values, n, options)
    if framing.recfm in ("F", "FB"):
        width = framing.lrecl or record.size
        if width > record.size:
            pad = np.full((n, width - record.size), charset(options.encoding).space, np.uint8)
            rows = np.concatenate([rows, pad], axis=1)
        return rows, None
    if record.odo and options.odo == "variable":
        counts = tuple(np.asarray(values[t.count_column], dtype=np.int64) for t in record.odo)
        return compact(rows, record.odo, counts)
    return rows, None


def _corrupt(row: np.ndarray, f: Field, options: DecodeOptions) -> None:
    """Make one field invalid: a packed sign nibble of 0-9, or a zoned byte that is no digit."""
    if f.usage is Usage.COMP_3:
        row[f.offset + f.size - 1] = (row[f.offset + f.size - 1] & 0xF0) | 0x07
    else:  # a period is neither a digit nor an overpunched sign in any code page
        row[f.offset + f.size // 2] = charset(options.encoding).encode_text(".")[0]
