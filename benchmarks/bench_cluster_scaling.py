"""Scaling beyond this machine, by measurement and model: what 8, 32 and 128 Dask workers
could load into one PostgreSQL primary, and what limits them.

Measured on this machine:

1. **The scheduler's per-task overhead**: no-op tasks carrying a payload the size of a real
   task's pickled arguments (measured on the run of 2.), submitted as the executor submits
   them (``TASKS_PER_WORKER`` per worker in flight, the next as one finishes) to a
   ``LocalCluster`` of two workers: the tasks a second the client and scheduler sustain,
   and so the overhead of one task.
2. **Per-record costs of a real run**: ``mfpipe run --executor dask`` of the customer
   sample file into a fresh PostgreSQL schema, with its proof: the workers' CPU (the
   tasks' own: read, frame, decode, encode, COPY, in-transaction proof, commit), the
   PostgreSQL server's CPU (every postgres process, exited backends included, from
   ``/proc``) and the WAL written, each split at the "load ended" event into the load
   (parallel over workers) and the publication (one transaction at the end of each run);
   the same for the local engine (its processes' CPU, the launcher's included).
3. **The planner**: the launcher frames each file alone; fixed records by arithmetic, but an
   RDW chain record by record: the records a second it frames a VB file of the sample's
   record size (``iter_chunks``, the reader's walk).

Projected, for N one-core workers and a primary of C cores with a WAL device of B MB/s:
the load's records a second are the least of the workers' ceiling (N / worker CPU a
record), the primary's CPU ceiling (C x ``UTILIZATION`` / server CPU a record), its WAL
ceiling (B / WAL bytes a record) and the scheduler's (tasks a second x records a chunk).
The assumptions (C, B, utilization) are printed with the projection.

Run: ``.venv/bin/python benchmarks/bench_cluster_scaling.py --records 1000000``; results go
to benchmarks/RESULTS.md with the command.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_load as bl  # the sample files, the fresh schemas, `mfpipe run`'s arguments

from mfpipe.framing import FramingOptions, iter_chunks, write_records
from mfpipe.pipeline.cluster import TASKS_PER_WORKER
from mfpipe.pipeline.spec import spec_from_options

WORKERS = (8, 32, 128)
PRIMARY_CORES = (16, 64)
WAL_MB_S = 400.0  # a primary's sustained WAL write rate (an NVMe volume; state your own)
UTILIZATION = 0.7  # of a primary's cores that bulk loads can use, the rest for everything else


def no_op(payload: bytes) -> int:
    return len(payload)


def scheduler_overhead(tasks: int, size: int) -> dict[str, float]:
    """Tasks a second through a two-worker local cluster, submitted as the executor does,
    each with ``size`` bytes of arguments."""
    from distributed import Client, LocalCluster, wait

    payload = os.urandom(size)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.submit(no_op, b"", pure=False).result()  # workers up, function shipped
        limit = TASKS_PER_WORKER * 2
        running: set[Any] = set()
        submitted = 0
        started = time.perf_counter()
        while submitted < tasks or running:
            while submitted < tasks and len(running) < limit:
                running.add(client.submit(no_op, payload, pure=False, key=f"t-{submitted}"))
                submitted += 1
            done, _ = wait(running, return_when="FIRST_COMPLETED")
            running -= done
        elapsed = time.perf_counter() - started
    return {"tasks": tasks, "payload_bytes": size, "tasks_per_s": round(tasks / elapsed, 1),
            "overhead_ms": round(1000 * elapsed / tasks, 3)}


def planner_rate(records: int, size: int = 92) -> dict[str, float]:
    """Records a second the reader frames a VB file of ``records`` records into chunks."""
    import numpy as np

    rng = np.random.default_rng(1)
    rows = rng.integers(0, 256, (records, size), dtype=np.uint8)
    options = FramingOptions("VB")
    data = write_records(rows, rng.integers(size // 2, size + 1, records), options)
    started = time.perf_counter()
    framed = sum(c.n_records for c in iter_chunks(data, options, 50_000))
    elapsed = time.perf_counter() - started
    bl.require(framed == records, framed)
    return {"vb_records_per_s": round(records / elapsed)}


def postgres_cpu_s() -> float:
    """CPU seconds of every postgres process so far, exited backends included (in the
    postmaster's children's times)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:]
        if name == "postgres":
            fields = rest.split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / tick


def wal_bytes(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one())


def measure_run(path: Path, server: str, records: int, executor: str = "dask"
                ) -> dict[str, Any]:
    """One ``mfpipe run --executor EXECUTOR`` into a fresh schema, with the server's CPU and
    WAL sampled before, at "load ended" and after."""
    schema, url = bl.pg_schema(server)
    engine = sa.create_engine(bl.psycopg_url(server))
    try:
        bl.checkpoint(server)
        marks = [(postgres_cpu_s(), wal_bytes(engine))]
        args = [*bl.mfpipe_args(path, url, None, None), "--executor", executor]
        started = time.perf_counter()
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=tempfile.gettempdir())
        assert process.stderr is not None and process.stdout is not None
        for line in process.stderr:
            if '"load ended"' in line:
                marks.append((postgres_cpu_s(), wal_bytes(engine)))
        out = process.stdout.read()
        process.wait()
        wall = time.perf_counter() - started
        marks.append((postgres_cpu_s(), wal_bytes(engine)))
        summary = json.loads(out.strip().splitlines()[-1])
        bl.require(process.returncode == 0 and summary["reconciliation"].get("passed"),
                   summary)
        bl.require(summary["counts"]["loaded"] == records, summary["counts"])
        (cpu0, wal0), (cpu1, wal1), (cpu2, wal2) = marks
        with engine.connect() as c:
            options = c.execute(sa.text(f"SELECT options FROM {schema}.mfp_run")).scalar_one()
        spec = spec_from_options(json.loads(options), url)
        arguments = len(pickle.dumps((spec.decode_work(), spec.write_work(), "stg", "launch")))
        return {"executor": executor, "records": records, "chunks": summary["counts"]["chunks"],
                "wall_s": round(wall, 2), **summary["phases"],
                "worker_cpu_s": summary["cpu_s"], "server_load_cpu_s": round(cpu1 - cpu0, 2),
                "server_publish_cpu_s": round(cpu2 - cpu1, 2),
                "wal_load_mb": round((wal1 - wal0) / 1e6, 1),
                "wal_publish_mb": round((wal2 - wal1) / 1e6, 1), "task_bytes": arguments}
    finally:
        engine.dispose()
        bl.drop_schema(server, schema)


def project(run: dict[str, Any], overhead: dict[str, float], planner: dict[str, float]
            ) -> list[dict[str, Any]]:
    """Records a second of one file's load for each worker count and primary size, and
    what limits it (a VB file's planner included; an FB file's plans by arithmetic)."""
    n = run["records"]
    per_chunk = n / run["chunks"]
    ceilings_fixed = {
        "wal": WAL_MB_S * 1e6 / (run["wal_load_mb"] * 1e6 / n),
        "scheduler": overhead["tasks_per_s"] * per_chunk,
        "vb_planner": planner["vb_records_per_s"],
    }
    rows = []
    for cores in PRIMARY_CORES:
        primary = cores * UTILIZATION / (run["server_load_cpu_s"] / n)
        for workers in WORKERS:
            ceilings = {"workers": workers / (run["worker_cpu_s"] / n), "primary_cpu": primary,
                        **ceilings_fixed}
            limit = min(ceilings, key=lambda k: ceilings[k])
            rows.append({"workers": workers, "primary_cores": cores,
                         "records_per_s": round(ceilings[limit]), "limited_by": limit,
                         **{f"{k}_ceiling": round(v) for k, v in ceilings.items()}})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=3_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    path = bl.sample_file(args.records)
    local = measure_run(path, args.postgres, args.records, "local")  # the same costs there
    print(f"local: {local}", file=sys.stderr, flush=True)
    run = measure_run(path, args.postgres, args.records)
    print(f"run: {run}", file=sys.stderr, flush=True)
    overhead = scheduler_overhead(args.tasks, run["task_bytes"])
    print(f"scheduler: {overhead}", file=sys.stderr, flush=True)
    planner = planner_rate(args.records)
    print(f"planner: {planner}", file=sys.stderr, flush=True)
    print(json.dumps({"load": bl.loadavg(), "scheduler": overhead, "planner": planner,
                      "local": local, "run": run,
                      "assumptions": {"wal_mb_s": WAL_MB_S, "utilization": UTILIZATION},
                      "projection": project(run, overhead, planner)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
