"""Decode throughput: mfpipe's vectorized decoders against a per-record Python decoder.

The issue's target: decode a realistic layout (text, zoned, packed, binary; ~100-byte
records; 1M records) at >= 10x a straightforward per-record Python decoder of the same layout,
and at >= 150 MB/s on one core for text+packed+binary mixes.

What is measured, all in one process and one run (ratios are against the baseline measured in
the same run, because the machines this runs on are noisy):

* ``mfpipe``: open (mmap) + framing (``iter_chunks``) + ``DecodePlan.decode`` of every chunk
  (through ``decode_chunk``, i.e. the chunk's in-place byte matrix and the plan), valid rows as
  Arrow record batches plus reject batches. Batches are counted and dropped.
* ``per-record Python``: the way typical Python copybook tools decode, written here and
  driven by the same parsed layout: read a record with ``f.read(lrecl)``, slice each field,
  ``bytes.decode(code page).rstrip(' ')`` for text, a per-byte digit/zone loop for zoned, a
  nibble loop for packed with an exact ``decimal.Decimal`` result, ``int.from_bytes`` for binary,
  validating digits and signs as it goes (a bad field rejects the record), rows as tuples.
* ``per-record Python + Arrow``: the same, then the rows into an Arrow record batch (what
  mfpipe produces), for a like-for-like output.

Before timing, the decoders are checked against each other: identical values on a sample of
records across the whole file, and identical rejects (record, field, reason) on a small file
with corrupted records. Each measurement is repeated ``--repeat`` times; the best wall time is
reported (with its CPU time). MB/s is 10**6 bytes of records (LRECL bytes each) per wall second.

Usage::

    .venv/bin/python benchmarks/bench_decode.py                   # 1M records, best of 3
    .venv/bin/python benchmarks/bench_decode.py --records 200000 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mfpipe.codec import DecodeOptions, DecodePlan, Reason, charset
from mfpipe.framing import FramingOptions, iter_chunks
from mfpipe.layout import Category, Field, RecordLayout, SignPosition, Usage, load_layout
from mfpipe.pipeline import decode_chunk, generate_file, open_input

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "mfpipe" / "data" / "customer.cpy"
ENCODING = "cp037"


# --------------------------------------------------------------------------------------------
# The baseline: a straightforward per-record decoder, field by field, value by value.
# --------------------------------------------------------------------------------------------

def require(ok: bool, message: object = "check failed") -> None:
    """An assertion that ``python -O`` does not remove: the comparison must stay honest."""
    if not ok:
        raise AssertionError(message)


class BadField(Exception):
    """A field failed validation; the per-record decoder rejects the whole record."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.name)
        self.reason = reason


FieldDecoder = Callable[[bytes], Any]

_PLUS_ZONES = (0xC, 0xF, 0xA, 0xE)  # F: unsigned; A, E: loose plus
_MINUS_ZONES = (0xD, 0xB)


def text_decoder(f: Field, encoding: str) -> FieldDecoder:
    def decode(raw: bytes) -> str:
        return raw.decode(encoding).rstrip(" ")
    return decode


def zoned_decoder(f: Field, encoding: str) -> FieldDecoder:
    """EBCDIC zoned decimal, sign overpunched in the last byte's zone (or none)."""
    if f.sign_position not in (SignPosition.TRAILING, SignPosition.NONE):
        raise NotImplementedError(f"{f.name}: sign position {f.sign_position.value}")
    blank = charset(encoding).encode_text(" ") * f.size
    scale, signed = f.scale, f.signed

    def decode(raw: bytes) -> int | Decimal | None:
        if raw == blank:
            return None  # all spaces: NULL (DecodeOptions.spaces_numeric="null")
        last = raw[-1]
        zone, digit = last >> 4, last & 0x0F
        if zone not in _PLUS_ZONES and zone not in _MINUS_ZONES:
            raise BadField(Reason.ZONED_SIGN)
        if digit > 9:
            raise BadField(Reason.ZONED_DIGIT)
        value = 0
        for byte in raw[:-1]:
            if byte < 0xF0 or byte > 0xF9:
                raise BadField(Reason.ZONED_DIGIT)
            value = value * 10 + (byte - 0xF0)
        value = value * 10 + digit
        if zone in _MINUS_ZONES:
            if not signed:
                raise BadField(Reason.NEGATIVE_UNSIGNED)
            value = -value
        return Decimal(value).scaleb(-scale) if scale else value
    return decode


def packed_decoder(f: Field, encoding: str) -> FieldDecoder:
    """COMP-3: two digit nibbles a byte, the last byte one digit and the sign nibble."""
    scale, signed = f.scale, f.signed
    spare = f.digits % 2 == 0  # an even digit count leaves the first nibble unused (zero)

    def decode(raw: bytes) -> int | Decimal:
        value = 0
        for byte in raw[:-1]:
            high, low = byte >> 4, byte & 0x0F
            if high > 9 or low > 9:
                raise BadField(Reason.PACKED_DIGIT)
            value = value * 100 + high * 10 + low
        last = raw[-1]
        high, sign = last >> 4, last & 0x0F
        if high > 9:
            raise BadField(Reason.PACKED_DIGIT)
        value = value * 10 + high
        if sign < 0xA:
            raise BadField(Reason.PACKED_SIGN)
        if sign == 0xB or sign == 0xD:
            if not signed:
                raise BadField(Reason.NEGATIVE_UNSIGNED)
            value = -value
        if spare and raw[0] >> 4:
            raise BadField(Reason.TOO_MANY_DIGITS)
        return Decimal(value).scaleb(-scale) if scale else value
    return decode


def binary_decoder(f: Field, encoding: str) -> FieldDecoder:
    scale, signed = f.scale, f.signed

    def decode(raw: bytes) -> int | Decimal:
        value = int.from_bytes(raw, "big", signed=signed)
        return Decimal(value).scaleb(-scale) if scale else value
    return decode


def _baseline_field(f: Field, encoding: str) -> FieldDecoder:
    if f.category is Category.ALPHANUMERIC:
        return text_decoder(f, encoding)
    if f.category is Category.NUMERIC and f.usage is Usage.DISPLAY:
        return zoned_decoder(f, encoding)
    if f.category is Category.NUMERIC and f.usage is Usage.COMP_3:
        return packed_decoder(f, encoding)
    if f.category is Category.NUMERIC and f.usage in (Usage.COMP, Usage.COMP_5):
        return binary_decoder(f, encoding)
    raise NotImplementedError(f"{f.name}: {f.category.value} {f.usage.value}")


class PerRecordDecoder:
    """Decode records one at a time: a list of (start, stop, function) applied to each record."""

    def __init__(self, record: RecordLayout, encoding: str = ENCODING) -> None:
        self.record = record
        self.specs = [(f.offset, f.offset + f.size, _baseline_field(f, encoding), f.column)
                      for f in record.fields]

    def decode_record(self, rec: bytes) -> tuple[Any, ...]:
        """One record's values; raises ``BadField`` (``.column`` set) at the first bad field."""
        values = []
        for start, stop, decode, column in self.specs:
            try:
                values.append(decode(rec[start:stop]))
            except BadField as bad:
                bad.column = column  # type: ignore[attr-defined]
                raise
        return tuple(values)

    def decode_file(self, path: str | Path, lrecl: int, limit: int
                    ) -> tuple[list[tuple[Any, ...]], list[tuple[int, str, str]]]:
        """Rows of the first ``limit`` records, and (record_no, column, reason) of the rejects."""
        rows: list[tuple[Any, ...]] = []
        rejects: list[tuple[int, str, str]] = []
        decode_record = self.decode_record
        with open(path, "rb") as handle:
            for record_no in range(1, limit + 1):
                rec = handle.read(lrecl)
                if len(rec) < lrecl:
                    break
                try:
                    rows.append(decode_record(rec))
                except BadField as bad:
                    rejects.append((record_no, bad.column, bad.reason.name))  # type: ignore
        return rows, rejects

    def to_arrow(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        """The rows as an Arrow record batch of the layout's schema."""
        schema = self.record.arrow_schema
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
        arrays = [pa.array(column, type=field.type)
                  for column, field in zip(columns, schema, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


# --------------------------------------------------------------------------------------------
# mfpipe
# --------------------------------------------------------------------------------------------

def mfpipe_decode_file(plan: DecodePlan, path: str | Path, framing: FramingOptions,
                       chunk_records: int) -> tuple[int, int]:
    """Frame and decode the whole file chunk by chunk; (valid rows, rejects)."""
    rows = rejected = 0
    with open_input(path) as buffer:
        for chunk in iter_chunks(buffer, framing, chunk_records, str(path)):
            decoded = decode_chunk(plan, chunk, framing)
            rows += decoded.batch.num_rows
            rejected += decoded.rejects.num_rows
            del decoded, chunk
    return rows, rejected


def mfpipe_decode_records(plan: DecodePlan, path: str | Path, lrecl: int, record_nos: list[int]
                          ) -> dict[int, tuple[Any, ...]]:
    """Values of chosen records (1-based), decoded by mfpipe as one chunk, for the check."""
    data = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, lrecl)
    index = np.array(record_nos, dtype=np.int64) - 1
    decoded = plan.decode(np.ascontiguousarray(data[index]), 1, index * lrecl)
    del data
    require(decoded.rejects.num_rows == 0, decoded.rejects.to_pylist()[:3])
    return {record_no: tuple(row.values())
            for record_no, row in zip(record_nos, decoded.batch.to_pylist(), strict=True)}


# --------------------------------------------------------------------------------------------
# Checks: both decoders give the same values and the same rejects.
# --------------------------------------------------------------------------------------------

def check_values(plan: DecodePlan, baseline: PerRecordDecoder, path: Path, lrecl: int,
                 n_records: int, sample: int, seed: int = 1) -> int:
    """Compare both decoders on the first records and a random sample across the file."""
    rng = random.Random(seed)
    record_nos = sorted(set(range(1, min(n_records, 1000) + 1))
                        | set(rng.sample(range(1, n_records + 1), min(sample, n_records))))
    ours = mfpipe_decode_records(plan, path, lrecl, record_nos)
    with open(path, "rb") as handle:
        for record_no in record_nos:
            handle.seek((record_no - 1) * lrecl)
            theirs = baseline.decode_record(handle.read(lrecl))
            mine = ours[record_no]
            same_types = all(type(a) is type(b) for a, b in zip(mine, theirs, strict=True))
            if mine != theirs or not same_types:  # equal values, and Decimal/int/str alike
                raise AssertionError(f"record {record_no}: mfpipe {mine} != baseline {theirs}")
    return len(record_nos)


def check_rejects(record: RecordLayout, workdir: Path, lrecl: int, n: int = 5000,
                  bad: int = 200) -> int:
    """On a file with corrupted records both decoders reject the same records for the same
    field and reason, and agree on every valid row."""
    framing = FramingOptions(recfm="FB", lrecl=lrecl)
    path = workdir / "customer_bad.dat"
    sample = generate_file(record, path, n, framing, DecodeOptions(encoding=ENCODING), bad=bad,
                           seed=7)
    # more kinds of damage than generate_file makes (a packed sign, a zoned digit)
    damage = [("last_txn_amount", -1, b"\x4B", Reason.ZONED_SIGN),  # zone 4 in the sign byte
              ("open_date", 0, b"\xFA", Reason.ZONED_DIGIT),
              ("cust_id", -1, b"\xD5", Reason.NEGATIVE_UNSIGNED),  # minus zone, unsigned PIC
              ("balance", 1, b"\xA1", Reason.PACKED_DIGIT),
              ("interest_rate", -1, b"\x3F", Reason.OK),  # F sign nibble: valid
              ("bonus_points", -1, b"\x1D", Reason.NEGATIVE_UNSIGNED),
              ("cust_id", 0, b"\x40" * 10, Reason.OK)]  # all spaces: NULL, not a reject
    clean = sorted(set(range(1, n + 1)) - set(sample.bad_records))
    damaged = []
    with open(path, "r+b") as handle:
        for record_no, (column, at, data, reason) in zip(clean[10::97], damage, strict=False):
            f = record.field(column)
            handle.seek((record_no - 1) * lrecl + f.offset + (at % f.size))
            handle.write(data)
            if reason is not Reason.OK:
                damaged.append(record_no)
    plan = DecodePlan.compile(record, DecodeOptions(encoding=ENCODING))
    baseline = PerRecordDecoder(record)
    rows, rejects = baseline.decode_file(path, lrecl, n)
    ours_rows: list[tuple[Any, ...]] = []
    ours_rejects: list[tuple[int, str, str]] = []
    reason_names = {Reason(r).text: Reason(r).name for r in range(len(Reason))}
    with open_input(path) as buffer:
        for chunk in iter_chunks(buffer, framing, 1000, str(path)):
            decoded = decode_chunk(plan, chunk, framing)
            ours_rows += [tuple(r.values()) for r in decoded.batch.to_pylist()]
            ours_rejects += [(r["record_no"], r["column"], reason_names[r["reason"]])
                             for r in decoded.rejects.to_pylist()]
    require([r[0] for r in rejects] == sorted([*sample.bad_records, *damaged]),
            "the baseline missed a bad record")
    require(ours_rejects == rejects, f"rejects differ: {ours_rejects[:3]} vs {rejects[:3]}")
    require(ours_rows == rows, "valid rows differ on the corrupted file")
    path.unlink()
    return len(rejects)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

@dataclass
class Result:
    decoder: str
    records: int
    wall_s: float  # best of the repeats
    cpu_s: float  # process CPU time of that same repeat (all threads)
    walls: list[float]

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s

    def mb_per_s(self, lrecl: int) -> float:
        return self.records * lrecl / self.wall_s / 1e6


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, float, list[float], Any]:
    """Run ``repeat`` times; the fastest wall time, its CPU time, all wall times, last result."""
    best = (float("inf"), 0.0)
    walls = []
    out = None
    for _ in range(repeat):
        out = None  # the previous repeat's output is not kept alive during the next one
        gc.collect()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        out = run()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        walls.append(wall)
        if wall < best[0]:
            best = (wall, cpu)
    return best[0], best[1], walls, out


def per_field_times(plan: DecodePlan, path: Path, framing: FramingOptions, chunk_records: int,
                    repeat: int) -> dict[str, float]:
    """Seconds spent in each field's decoder over the whole file (best of ``repeat``)."""
    best: dict[str, float] = {}
    with open_input(path) as buffer:
        matrices = [chunk.matrix(framing.lrecl or 0) for chunk in
                    iter_chunks(buffer, framing, chunk_records, str(path))]
        for _ in range(repeat):
            spent = dict.fromkeys((c.field.column for c in plan.columns), 0.0)
            for matrix in matrices:
                for column in plan.columns:
                    f = column.field
                    raw = matrix[:, f.offset:f.offset + f.size]
                    start = time.perf_counter()
                    column.decoder(raw, f, plan.options)
                    spent[f.column] += time.perf_counter() - start
            best = {k: min(v, best.get(k, float("inf"))) for k, v in spent.items()}
        del matrices
    return best


def machine_facts() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000,
                        help="records in the generated file decoded by mfpipe (default 1M)")
    parser.add_argument("--baseline-records", type=int, default=100_000,
                        help="records decoded by the per-record Python decoder (default 100k)")
    parser.add_argument("--chunk-records", type=int, default=50_000,
                        help="records per chunk for mfpipe (default 50k)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; best is reported")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep (and reuse) the generated file here, e.g. benchmarks/data; "
                             "default: a temporary directory removed afterwards")
    parser.add_argument("--no-arrow-baseline", action="store_true",
                        help="skip the per-record Python + Arrow measurement")
    parser.add_argument("--per-field", action="store_true",
                        help="also time each field's mfpipe decoder separately")
    parser.add_argument("--check-sample", type=int, default=5000,
                        help="random records compared between the decoders (plus the first 1000)")
    parser.add_argument("--pin-cpu", type=int, default=None,
                        help="pin the process to this CPU (os.sched_setaffinity)")
    args = parser.parse_args(argv)
    if args.records < 1 or args.baseline_records < 1 or args.repeat < 1:
        parser.error("--records, --baseline-records and --repeat must be positive")
    return args


def prepare_file(record: RecordLayout, directory: Path, n: int, framing: FramingOptions
                 ) -> tuple[Path, float | None]:
    """The benchmark file (generated unless an identical one is kept); generation seconds."""
    path = directory / f"customer_{n}.dat"
    if path.exists() and path.stat().st_size == n * (framing.lrecl or record.size) and \
            path.with_suffix(".ok").exists():
        return path, None
    start = time.perf_counter()
    generate_file(record, path, n, framing, DecodeOptions(encoding=ENCODING), seed=0)
    path.with_suffix(".ok").write_text("generated by bench_decode.py with seed 0\n")
    return path, time.perf_counter() - start


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if args.pin_cpu is not None:
        os.sched_setaffinity(0, {args.pin_cpu})
    record = load_layout(LAYOUT).record()
    lrecl = record.size
    framing = FramingOptions(recfm="FB", lrecl=lrecl)
    options = DecodeOptions(encoding=ENCODING)
    plan = DecodePlan.compile(record, options)
    baseline = PerRecordDecoder(record, ENCODING)
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    path, generated_s = prepare_file(record, workdir, args.records, framing)
    log(f"file: {path} ({args.records:,} records x {lrecl} bytes)"
        + (f", generated in {generated_s:.1f}s" if generated_s else ", reused"))
    n_base = min(args.baseline_records, args.records)

    checked = check_values(plan, baseline, path, lrecl, args.records, args.check_sample)
    rejects_checked = check_rejects(record, workdir, lrecl)
    log(f"check: identical values on {checked:,} records; identical rejects on a damaged "
        f"file ({rejects_checked} rejected records of 5,000: same record, field, reason)")

    results: list[Result] = []

    def mfpipe_run() -> tuple[int, int]:
        return mfpipe_decode_file(plan, path, framing, args.chunk_records)

    wall, cpu, walls, (rows, rejected) = best_of(args.repeat, mfpipe_run)
    require((rows, rejected) == (args.records, 0), (rows, rejected))
    results.append(Result("mfpipe (framing + DecodePlan.decode)", args.records, wall, cpu, walls))
    log(f"mfpipe: {[round(w, 3) for w in walls]} s")

    def baseline_run() -> tuple[list[tuple[Any, ...]], list[tuple[int, str, str]]]:
        return baseline.decode_file(path, lrecl, n_base)

    wall, cpu, walls, (rows_b, rejects_b) = best_of(args.repeat, baseline_run)
    require(len(rows_b) == n_base and not rejects_b)
    base = Result("per-record Python (tuples)", n_base, wall, cpu, walls)
    results.append(base)
    log(f"per-record Python: {[round(w, 3) for w in walls]} s")
    del rows_b

    if not args.no_arrow_baseline:
        def arrow_run() -> int:
            rows, _ = baseline.decode_file(path, lrecl, n_base)
            return baseline.to_arrow(rows).num_rows

        wall, cpu, walls, count = best_of(args.repeat, arrow_run)
        require(count == n_base)
        results.append(Result("per-record Python + Arrow batch", n_base, wall, cpu, walls))
        log(f"per-record Python + Arrow: {[round(w, 3) for w in walls]} s")

    report: dict[str, Any] = {
        "command": " ".join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(
            str(ROOT)) else sys.executable, os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]]),
        "machine": machine_facts(),
        "layout": {"path": str(LAYOUT.relative_to(ROOT)), "lrecl": lrecl,
                   "fields": len(record.fields), "encoding": ENCODING},
        "records": args.records, "baseline_records": n_base, "chunk_records": args.chunk_records,
        "repeat": args.repeat,
        "checked_records": checked, "checked_rejects": rejects_checked,
        "results": [{**asdict(r), "records_per_s": r.records_per_s, "mb_per_s": r.mb_per_s(lrecl),
                     "ratio_vs_baseline": r.records_per_s / base.records_per_s}
                    for r in results],
    }
    if args.per_field:
        times = per_field_times(plan, path, framing, args.chunk_records, args.repeat)
        report["per_field_s"] = {
            k: {"seconds": v, "kind": _kind(record.field(k)),
                "mb_per_s_of_field_bytes": args.records * record.field(k).size / v / 1e6}
            for k, v in sorted(times.items(), key=lambda kv: -kv[1])}
    return report


def _kind(f: Field) -> str:
    if f.category is Category.ALPHANUMERIC:
        return "text"
    return {Usage.DISPLAY: "zoned", Usage.COMP_3: "packed"}.get(f.usage, "binary")


def render(report: dict[str, Any]) -> str:
    lrecl = report["layout"]["lrecl"]
    header = (f"{'decoder':38s} {'records':>10s} {'wall s':>8s} {'cpu s':>8s} "
              f"{'records/s':>12s} {'MB/s':>8s} {'vs baseline':>11s}")
    lines = [header]
    for r in report["results"]:
        lines.append(f"{r['decoder']:38s} {r['records']:>10,d} {r['wall_s']:>8.3f} "
                     f"{r['cpu_s']:>8.3f} {r['records_per_s']:>12,.0f} {r['mb_per_s']:>8.1f} "
                     f"{r['ratio_vs_baseline']:>10.1f}x")
    m = report["machine"]
    lines.append(f"(LRECL {lrecl}; MB = 10^6 bytes of records; best of {report['repeat']}; "
                 f"{m['cpus_usable']} usable CPUs; Python {m['python']}, NumPy {m['numpy']}, "
                 f"pyarrow {m['pyarrow']})")
    if "per_field_s" in report:
        lines.append("")
        lines.append(f"{'mfpipe decoder time per field':32s} {'kind':>7s} {'seconds':>8s} "
                     f"{'field MB/s':>10s}")
        for column, t in report["per_field_s"].items():
            lines.append(f"{column:32s} {t['kind']:>7s} {t['seconds']:>8.3f} "
                         f"{t['mb_per_s_of_field_bytes']:>10.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        report = run(args, args.data_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="mfpipe-bench-") as tmp:
            report = run(args, Path(tmp))
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
