"""The Dask executor against the local engine: the same `mfpipe run`, the same file.

Each round runs ``mfpipe run`` on the customer sample file into a fresh PostgreSQL schema and
a fresh SQLite file, once with the local engine (``--processors 2 --writers 2``) and once with
``--executor dask`` (a ``LocalCluster`` of two single-threaded worker processes, started by
the run itself, its start-up included), alternating; every run must complete and reconcile.
Wall seconds, best of ``--repeat``, and the cluster's cost as a ratio to the local engine.

Run: ``.venv/bin/python benchmarks/bench_cluster.py --records 1000000 5000000``; results go
to benchmarks/RESULTS.md with the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_load as bl  # the sample files, the fresh schemas, `mfpipe run` and its checks

EXECUTORS = {"local": [], "dask": ["--executor", "dask"]}


def measure(records: int, repeat: int, server: str, log: Any) -> dict[str, Any]:
    path = bl.sample_file(records)
    best: dict[str, float] = {}
    for round_no in range(repeat):
        for name, extra in EXECUTORS.items():
            for database in ("postgresql", "sqlite"):
                if database == "postgresql":
                    result, _ = bl.mfpipe_postgres(path, server, records, None, extra=extra)
                else:
                    result, _ = bl.mfpipe_sqlite(path, records, None, extra=extra)
                key = f"{database}_{name}"
                best[key] = min(best.get(key, float("inf")), result["wall_s"])
                log(f"{records:,} records, round {round_no + 1}, {key}: "
                    f"{result['wall_s']:.2f} s (load {result['load_s']:.2f} s)")
    return {"records": records, "load": bl.loadavg(),
            **{k: round(v, 2) for k, v in sorted(best.items())},
            **{f"{db}_dask_over_local": round(best[f"{db}_dask"] / best[f"{db}_local"], 3)
               for db in ("postgresql", "sqlite")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    results = [measure(n, args.repeat, args.postgres,
                       lambda line: print(line, file=sys.stderr, flush=True))
               for n in args.records]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
