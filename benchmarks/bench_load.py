"""End-to-end load benchmark: ``mfpipe run`` against the database's own bulk limit.

Every comparison is measured in the same run, on the same file, into the same staging table
shape, and reported as a ratio (this machine is shared and noisy; absolute times are not).

* PostgreSQL: ``mfpipe run`` (total wall time, process start-up included) against a raw
  ``adbc_ingest`` of the same rows, already decoded in memory, in one transaction.
* SQLite: ``mfpipe run`` against a raw ``executemany`` of the same rows as Python tuples.
* A naive per-record loader (struct/codecs decode, SQLAlchemy executemany), measured on a
  sample of the file and compared as records per second.
* Scaling: processors x writers, and peak RSS of the whole process tree on 1M and 5M files.

Run: ``.venv/bin/python benchmarks/bench_load.py`` (see --help); results go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.db.loaders.base import as_python_friendly
from mfpipe.db.schema import staging_table
from mfpipe.framing import FramingOptions, iter_chunks
from mfpipe.layout import load_layout
from mfpipe.pipeline import generate_file
from mfpipe.pipeline.process import decode_chunk

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "mfpipe" / "data" / "customer.cpy"
DATA = ROOT / "benchmarks" / "data"
OPTIONS = DecodeOptions(dates=(("open_date", "YYYYMMDD"),))
MFPIPE = str(Path(sys.executable).parent / "mfpipe")


def sample_file(records: int) -> Path:
    """The customer layout, FB cp037, generated once per size and kept in benchmarks/data."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"customer_{records}.dat"
    if not path.exists():
        record = load_layout(LAYOUT).record()
        generate_file(record, path, records, FramingOptions("FB", lrecl=record.size), OPTIONS,
                      seed=7)
    return path


def pg_schema(server: str) -> tuple[str, str]:
    """A fresh schema and a URL whose search_path points at it."""
    schema = f"bench_{secrets.token_hex(3)}"
    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return schema, f"{server}?options={quote(f'-csearch_path={schema}')}"


def drop_schema(server: str, schema: str) -> None:
    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def run_mfpipe(path: Path, url: str, processors: int = 2, writers: int = 2,
               sample_rss: bool = False) -> dict:
    """``mfpipe run --json`` in a child process; wall time and (optionally) peak tree RSS."""
    args = [MFPIPE, "run", "--layout", str(LAYOUT), "--input", str(path), "--db", url,
            "--date", "open_date=YYYYMMDD", "--processors", str(processors), "--writers",
            str(writers), "--max-errors", "0", "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, cwd=tempfile.gettempdir())
    peak = [0]
    if sample_rss:
        threading.Thread(target=_sample_rss, args=(process, peak), daemon=True).start()
    out, _ = process.communicate()
    wall = time.perf_counter() - started
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "COMPLETED", summary
    return {"wall_s": wall, "loaded": summary["counts"]["loaded"], "peak_rss_mb": peak[0] / 1024}


def _sample_rss(process: subprocess.Popen, peak: list[int]) -> None:
    """Sum of VmRSS (kB) over the launcher and all its descendants, sampled every 0.1 s."""
    while process.poll() is None:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            pid, ppid = int(entry), int(fields["PPid"].strip())
            children.setdefault(ppid, []).append(pid)
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
        tree, todo = set(), [process.pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo.extend(children.get(pid, []))
        peak[0] = max(peak[0], sum(rss.get(pid, 0) for pid in tree))
        time.sleep(0.1)


def decoded_table(path: Path, run_id: str = "bench") -> pa.Table:
    """The staging rows of the file, decoded in memory (the raw baselines start from here)."""
    record = load_layout(LAYOUT).record()
    plan = DecodePlan.compile(record, OPTIONS)
    framing = FramingOptions("FB", lrecl=record.size)
    batches = []
    data = path.read_bytes()
    for chunk in iter_chunks(data, framing, 50_000):
        decoded = decode_chunk(plan, chunk, framing)
        n = decoded.batch.num_rows
        lineage = [pa.array([run_id] * n), pa.array([1] * n, pa.int32()),
                   pa.array([chunk.chunk_id] * n, pa.int32()), pa.array(decoded.record_no)]
        batches.append(pa.RecordBatch.from_arrays(
            lineage + list(decoded.batch.columns),
            names=["run_id", "worker_id", "chunk_id", "record_no", *decoded.batch.schema.names]))
    return pa.Table.from_batches(batches)


def raw_postgres(table: pa.Table, server: str) -> float:
    import adbc_driver_postgresql.dbapi as pg

    schema, url = pg_schema(server)
    try:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        staging_table(sa.MetaData(), "customer_account", table.schema.remove(0).remove(0)
                      .remove(0).remove(0), "postgresql").create(engine)
        engine.dispose()
        with pg.connect(url) as conn, conn.cursor() as cur:
            started = time.perf_counter()
            cur.adbc_ingest("stg_customer_account", table, mode="append")
            conn.commit()
            return time.perf_counter() - started
    finally:
        drop_schema(server, schema)


def raw_sqlite(table: pa.Table) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.db"
        engine = sa.create_engine(f"sqlite:///{path}")
        staging_table(sa.MetaData(), "customer_account", table.schema.remove(0).remove(0)
                      .remove(0).remove(0), "sqlite").create(engine)
        engine.dispose()
        friendly = as_python_friendly(table)
        rows = list(zip(*(c.to_pylist() for c in friendly.columns)))  # pre-decoded tuples
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        names = ", ".join(f'"{n}"' for n in friendly.column_names)
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(f"INSERT INTO stg_customer_account ({names}) VALUES "
                               f"({', '.join('?' * friendly.num_columns)})", rows)
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed


def naive_decode(record: bytes) -> dict:
    """What per-record Python loaders do: slice, codecs.decode, nibble loops, struct."""
    def packed(raw: bytes, scale: int) -> Decimal:
        digits = "".join(f"{b >> 4}{b & 15}" for b in raw[:-1]) + str(raw[-1] >> 4)
        sign = -1 if raw[-1] & 15 in (0xB, 0xD) else 1
        return Decimal(sign * int(digits)).scaleb(-scale)

    def zoned(raw: bytes, scale: int) -> Decimal:
        digits = "".join(str(b & 15) for b in raw)
        sign = -1 if raw[-1] >> 4 == 0xD else 1
        return Decimal(sign * int(digits)).scaleb(-scale)

    text = record.decode("cp037")
    opened = int(text[45:53])
    return {"cust_id": int(text[0:10]), "cust_name": text[10:40].rstrip(),
            "branch_code": text[40:44].rstrip(), "acct_type": text[44].rstrip(),
            "open_date": f"{opened // 10000:04d}-{opened // 100 % 100:02d}-{opened % 100:02d}",
            "balance": str(packed(record[53:60], 2)),
            "credit_limit": str(packed(record[60:66], 2)),
            "interest_rate": str(packed(record[66:69], 5)),
            "txn_count": struct.unpack(">i", record[69:73])[0],
            "last_txn_amount": str(zoned(record[73:82], 2)),
            "status_code": text[82:84].rstrip(),
            "risk_score": struct.unpack(">h", record[84:86])[0],
            "bonus_points": int(packed(record[86:90], 0))}


def naive_load(path: Path, url: str, records: int) -> float:
    """Records per second of decode-then-SQLAlchemy-executemany, 1,000 rows per statement."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    table = sa.Table("stg_customer_account", sa.MetaData(), autoload_with=engine)
    data = path.read_bytes()[: records * 100]
    started = time.perf_counter()
    with engine.begin() as c:
        batch = []
        for i in range(records):
            row = naive_decode(data[i * 100:(i + 1) * 100])
            row.update(run_id="naive", worker_id=0, chunk_id=0, record_no=i + 1)
            batch.append(row)
            if len(batch) == 1000:
                c.execute(table.insert(), batch)
                batch = []
        if batch:
            c.execute(table.insert(), batch)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--naive-records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N for each timing")
    parser.add_argument("--scaling", action="store_true", help="processors x writers table")
    parser.add_argument("--rss", type=int, nargs="*", default=[],
                        help="record counts for the peak-RSS runs, e.g. 1000000 5000000")
    args = parser.parse_args()
    path = sample_file(args.records)
    table = decoded_table(path)
    results: dict[str, object] = {"records": args.records}

    def best(fn, *a, **k):
        return min((fn(*a, **k) for _ in range(args.repeat)), key=lambda r: r if isinstance(
            r, float) else r["wall_s"])

    def mfpipe_pg(**k):
        schema, url = pg_schema(args.postgres)
        try:
            return run_mfpipe(path, url, **k)
        finally:
            drop_schema(args.postgres, schema)

    def mfpipe_sqlite(**k):
        with tempfile.TemporaryDirectory() as tmp:
            return run_mfpipe(path, f"sqlite:///{tmp}/m.db", **k)

    pg_raw = best(raw_postgres, table, args.postgres)
    pg_run = best(mfpipe_pg)
    results["postgresql"] = {"raw_adbc_ingest_s": round(pg_raw, 2),
                             "mfpipe_run_s": round(pg_run["wall_s"], 2),
                             "ratio": round(pg_raw / pg_run["wall_s"], 2)}
    sq_raw = best(raw_sqlite, table)
    sq_run = best(mfpipe_sqlite, writers=1)
    results["sqlite"] = {"raw_executemany_s": round(sq_raw, 2),
                         "mfpipe_run_s": round(sq_run["wall_s"], 2),
                         "ratio": round(sq_raw / sq_run["wall_s"], 2)}
    schema, url = pg_schema(args.postgres)
    try:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        staging_table(sa.MetaData(), "customer_account", table.schema.remove(0).remove(0)
                      .remove(0).remove(0), "postgresql").create(engine)
        engine.dispose()
        naive_rate = naive_load(path, url, args.naive_records)
    finally:
        drop_schema(args.postgres, schema)
    mfpipe_rate = args.records / pg_run["wall_s"]
    results["naive_per_record_postgresql"] = {"naive_records_per_s": round(naive_rate),
                                              "mfpipe_records_per_s": round(mfpipe_rate),
                                              "speedup": round(mfpipe_rate / naive_rate, 1)}
    if args.scaling:
        results["scaling_postgresql"] = [
            {"processors": p, "writers": w, "wall_s": round(best(mfpipe_pg, processors=p,
                                                                 writers=w)["wall_s"], 2)}
            for p in (1, 2) for w in (1, 2)]
    for count in args.rss:
        rss_path = sample_file(count)
        schema, url = pg_schema(args.postgres)
        try:
            measured = run_mfpipe(rss_path, url, sample_rss=True)
        finally:
            drop_schema(args.postgres, schema)
        results[f"peak_rss_{count}"] = {"records": count, "wall_s": round(measured["wall_s"], 2),
                                        "peak_tree_rss_mb": round(measured["peak_rss_mb"])}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
