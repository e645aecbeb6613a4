"""``mfpipe convert`` as a command against a naive per-record converter, also as a command.

Both are timed end to end as an operator runs them (a new Python process, start-up
included), writing Parquet, on the decode benchmark's customer file:

* ``mfpipe convert LAYOUT FILE -o out.parquet`` (and ``out.jsonl``) on every record;
* the naive converter: ``bench_decode.PerRecordDecoder`` (slicing, ``bytes.decode``, nibble
  loops, ``Decimal``; the baseline whose values the decode benchmark checks against mfpipe's)
  on the first ``--naive-records`` records, its rows written with ``pyarrow``'s
  ``Table.from_pylist`` and ``parquet.write_table`` (``python benchmarks/bench_convert.py
  --naive FILE OUT N`` is that command).

Compared as records per second, best of ``--repeat``. Run:
``.venv/bin/python benchmarks/bench_convert.py --records 1000000``; results go to
benchmarks/RESULTS.md with the command.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def naive(path: str, out: str, records: int) -> None:
    """The naive converter's body: per-record decoding, then Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mfpipe.layout import load_layout

    bd = _module("bench_decode")
    record = load_layout(_module("bench_load").LAYOUT).record()
    rows, _ = bd.PerRecordDecoder(record).decode_file(path, record.size, records)
    names = [f.column for f in record.fields]
    pq.write_table(pa.Table.from_pylist([dict(zip(names, row)) for row in rows]), out)


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench_convert: {args[:3]} exited {done.returncode}: "
                         f"{done.stderr[-500:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--naive-records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive", nargs=3, metavar=("FILE", "OUT", "N"),
                        help="run the naive converter (the baseline's command) and exit")
    args = parser.parse_args(argv)
    if args.naive:
        naive(args.naive[0], args.naive[1], int(args.naive[2]))
        return 0
    bl = _module("bench_load")
    path = bl.sample_file(args.records)
    with tempfile.TemporaryDirectory(dir=bl.DATA) as work:
        def convert(suffix: str) -> list[str]:
            return [bl.MFPIPE, "convert", str(bl.LAYOUT), str(path), "-o",
                    f"{work}/out.{suffix}", "--date", "open_date=YYYYMMDD"]

        naive_command = [sys.executable, __file__, "--naive", str(path), f"{work}/naive.parquet",
                         str(args.naive_records)]
        best = {"parquet": [], "jsonl": [], "naive": []}
        for _ in range(args.repeat):  # alternating, so that a busy moment hits all three
            best["parquet"].append(timed(convert("parquet")))
            best["jsonl"].append(timed(convert("jsonl")))
            best["naive"].append(timed(naive_command))
    rate = {"parquet": args.records / min(best["parquet"]),
            "jsonl": args.records / min(best["jsonl"]),
            "naive": args.naive_records / min(best["naive"])}
    report = {"records": args.records, "naive_records": args.naive_records,
              "seconds": {k: [round(v, 2) for v in vs] for k, vs in best.items()},
              "records_per_s": {k: round(v) for k, v in rate.items()},
              "parquet_vs_naive": round(rate["parquet"] / rate["naive"], 1),
              "jsonl_vs_naive": round(rate["jsonl"] / rate["naive"], 1),
              "jsonl_time_vs_parquet": round(min(best["jsonl"]) / min(best["parquet"]), 2),
              "loadavg": bl.loadavg()}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
