"""End-to-end load benchmark: ``mfpipe run`` against the database's own bulk limit.

Every comparison is measured in the same run, on the same file, into a staging table of the
same shape, in the same database server, and reported as a ratio (this machine is shared and
noisy; absolute times are not). Repeats alternate baseline and mfpipe and keep the best.

* PostgreSQL: ``mfpipe run`` against a raw ``adbc_ingest`` of the same rows, already decoded
  in memory (Arrow, lineage columns included, a run_id of the same length), into a fresh
  ``stg_customer_account`` created by mfpipe's own DDL function, one connection, one
  transaction. The table and the connection exist before the clock starts.
* SQLite: ``mfpipe run`` against a raw ``executemany`` of the same rows, already decoded into
  Python tuples (decimals and dates as the text mfpipe stores), one ``BEGIN IMMEDIATE``
  transaction, with the loader's pragmas (WAL, synchronous=NORMAL), in the same directory.
* A naive per-record loader: ``bench_decode.PerRecordDecoder`` (slicing, ``bytes.decode``,
  nibble loops, ``int.from_bytes``, exact ``Decimal``; the decoder whose values the decode
  benchmark checks against mfpipe's) plus SQLAlchemy ``executemany`` of dicts, 1,000 rows per
  statement, one transaction, into a PostgreSQL staging table, on the first
  ``--naive-records`` records. Compared as records per second.
* Scaling: processors x writers (``--scaling``) and the peak memory of the whole process tree
  on larger files (``--rss``).

mfpipe is timed two ways, both reported: ``load`` is the run summary's ``phases.load_s`` (the
engine: staging DDL, process start-up, decode, hash and load into staging), ``total`` is the
wall time of the ``mfpipe run`` command (Python start-up, file registry and SHA-256,
promotion to the final table and reconciliation as well). Each timed run gets a fresh
PostgreSQL schema or SQLite file, so the file registry never skips it (exit 99).

Honesty checks (the script stops if one fails): every mfpipe run is COMPLETED with exit 0,
all records loaded, reconciliation passed; the raw tables and mfpipe's staging tables have
the same columns and types; and the in-memory rows, the raw-loaded rows and mfpipe's staged
rows have the same count, distinct record numbers, content hash (mfpipe's SQL expression) and
exact money totals. The naive decoder's values equal mfpipe's on the first 1,000 records.

Run: ``.venv/bin/python benchmarks/bench_load.py --scaling --rss 1000000 5000000``
(see --help); results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.codec.digest import column_totals, content_hash, hash_columns, money_columns
from mfpipe.db import dialects
from mfpipe.db.dialects.sqlite import register_functions
from mfpipe.db.digest import as_decimal, as_hash
from mfpipe.db.loaders.base import as_python_friendly
from mfpipe.db.schema import staging_table
from mfpipe.framing import FramingOptions, iter_chunks
from mfpipe.layout import load_layout
from mfpipe.pipeline import generate_file
from mfpipe.pipeline.spec import new_run_id
from mfpipe.pipeline.process import decode_chunk

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "mfpipe" / "data" / "customer.cpy"
DATA = ROOT / "benchmarks" / "data"
OPTIONS = DecodeOptions(dates=(("open_date", "YYYYMMDD"),))
MFPIPE = str(Path(sys.executable).parent / "mfpipe")
TABLE = "stg_customer_account"
LINEAGE = ("run_id", "worker_id", "chunk_id", "record_no")


def require(ok: bool, message: object) -> None:
    """An honesty check: stop the benchmark rather than report a dishonest comparison."""
    if not ok:
        raise SystemExit(f"bench_load: check failed: {message}")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _bench_decode() -> Any:
    """The per-record decoder of the decode benchmark (the same, checked, baseline)."""
    if "bench_decode" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "bench_decode", Path(__file__).resolve().parent / "bench_decode.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_decode"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["bench_decode"]


# --------------------------------------------------------------------------------------------
# data and databases
# --------------------------------------------------------------------------------------------

def sample_file(records: int, directory: Path = DATA, bad: int = 0) -> Path:
    """The customer layout, FB cp037, generated once per size (and number of ``bad``
    records) and kept in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (f"customer_{records}.dat" if not bad else
                        f"customer_{records}_bad{bad}.dat")
    if not path.exists():
        record = load_layout(LAYOUT).record()
        partial = path.with_suffix(".part")
        generate_file(record, partial, records, FramingOptions("FB", lrecl=record.size),
                      OPTIONS, bad=bad, seed=7)
        partial.rename(path)
    return path


def layout_schema() -> pa.Schema:
    return DecodePlan.compile(load_layout(LAYOUT).record(), OPTIONS).schema


def decoded_table(path: Path) -> pa.Table:
    """The staging rows of the file, decoded in memory (the raw baselines start from here).

    Same decoder and lineage columns as the processors; the run_id has the length of a real
    one (a shorter one would make the baseline's rows smaller than mfpipe's).
    """
    record = load_layout(LAYOUT).record()
    plan = DecodePlan.compile(record, OPTIONS)
    framing = FramingOptions("FB", lrecl=record.size)
    run_id = new_run_id()
    batches = []
    for chunk in iter_chunks(path.read_bytes(), framing, 50_000):
        decoded = decode_chunk(plan, chunk, framing)
        n = decoded.batch.num_rows
        lineage = [pa.array([run_id] * n), pa.array([1] * n, pa.int32()),
                   pa.array([chunk.chunk_id] * n, pa.int32()),
                   pa.array(decoded.record_no, pa.int64())]
        batches.append(pa.RecordBatch.from_arrays(
            lineage + list(decoded.batch.columns), names=[*LINEAGE, *decoded.batch.schema.names]))
    return pa.Table.from_batches(batches)


def expected_fingerprint(table: pa.Table) -> dict[str, Any]:
    """What the processors compute for these rows: count, content hash, money totals."""
    data = table.drop_columns(list(LINEAGE))
    totals = column_totals(data, money_columns(data.schema))
    return {"rows": table.num_rows, "distinct_record_no": table.num_rows,
            "content_hash": content_hash(data, hash_columns(data.schema)),
            "totals": {k: Decimal(v) for k, v in totals.items()}}


def fingerprint(engine: sa.Engine) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The staged rows as the reconciliation sees them, and the table's columns and types."""
    schema = layout_schema()
    dialect = dialects.of(engine)
    table = sa.Table(TABLE, sa.MetaData(), autoload_with=engine)
    money = money_columns(schema)
    row = dialect.canonical_row(table, {f.name: f.type for f in schema}, hash_columns(schema))
    query = sa.select(sa.func.count(), sa.func.count(sa.distinct(table.c.record_no)),
                      dialect.digest_sum(row),
                      *(dialect.exact_sum(table.c[m], schema.field(m).type) for m in money))
    with engine.connect() as c:
        values = c.execute(query).one()
    columns = [(col["name"], str(col["type"])) for col in sa.inspect(engine).get_columns(TABLE)]
    return ({"rows": values[0], "distinct_record_no": values[1],
             "content_hash": as_hash(values[2]),
             "totals": {m: as_decimal(v) for m, v in zip(money, values[3:], strict=True)}},
            columns)


def checked(engine: sa.Engine, expected: dict[str, Any], loaded_by: str
            ) -> list[tuple[str, str]]:
    """Require the engine's staged rows to be ``expected``; the table's columns and types.
    The engine is disposed of."""
    try:
        found, columns = fingerprint(engine)
    finally:
        engine.dispose()
    require(found == expected, f"{loaded_by} rows {found} != {expected}")
    return columns


def sqlite_engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    sa.event.listen(engine, "connect", lambda dbapi, _: register_functions(dbapi))
    return engine


def psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def pg_schema(server: str) -> tuple[str, str]:
    """A fresh schema and a URL whose search_path points at it."""
    schema = f"bench_{secrets.token_hex(3)}"
    engine = sa.create_engine(psycopg_url(server))
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return schema, f"{server}?options={quote(f'-csearch_path={schema}')}"


def drop_schema(server: str, schema: str) -> None:
    engine = sa.create_engine(psycopg_url(server))
    with engine.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def checkpoint(server: str) -> None:
    """Flush dirty buffers before each timed PostgreSQL load, so no load pays for the last."""
    engine = sa.create_engine(psycopg_url(server), isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(sa.text("CHECKPOINT"))
    engine.dispose()


def create_staging(engine: sa.Engine) -> None:
    """The staging table as mfpipe creates it (same function, same dialect), without its
    index: the raw baselines are the cheapest ingest the server offers."""
    table = staging_table(sa.MetaData(), "customer_account", layout_schema(),
                          dialects.of(engine))
    table.indexes.clear()
    table.create(engine)


# --------------------------------------------------------------------------------------------
# mfpipe runs
# --------------------------------------------------------------------------------------------

def mfpipe_args(path: Path, url: str, processors: int | None, writers: int | None,
                loader: str | None = None) -> list[str]:
    """``mfpipe run`` with the defaults unless processors/writers/loader are given."""
    args = [MFPIPE, "run", "--layout", str(LAYOUT), "--input", str(path), "--db", url,
            "--date", "open_date=YYYYMMDD", "--max-errors", "0", "--json"]
    if processors is not None:
        args += ["--processors", str(processors)]
    if writers is not None:
        args += ["--writers", str(writers)]
    if loader is not None:
        args += ["--loader", loader]
    return args


def run_mfpipe(path: Path, url: str, records: int, processors: int | None = None,
               writers: int | None = None, sample_rss: bool = False,
               argv0: list[str] | None = None, loader: str | None = None,
               extra: Sequence[str] = ()) -> dict[str, Any]:
    """``mfpipe run --json`` (and ``extra`` options) in a child process: wall time, the
    summary's load time, phases."""
    args = [*mfpipe_args(path, url, processors, writers, loader), *extra]
    if argv0 is not None:  # a diagnostic: the same command through another entry point
        args = argv0 + args[1:]
    peak: dict[str, Any] = {}
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=tempfile.gettempdir())
    sampler = None
    if sample_rss:
        sampler = threading.Thread(target=_sample_rss, args=(process, peak), daemon=True)
        sampler.start()
    out, err = process.communicate()
    wall = time.perf_counter() - started
    ended = dt.datetime.now(dt.UTC)
    if sampler is not None:
        sampler.join()
    lines = out.strip().splitlines()
    require(process.returncode == 0 and lines, f"mfpipe run exited {process.returncode}: "
                                               f"{err[-2000:]}")
    summary = json.loads(lines[-1])
    counts = summary["counts"]
    require(summary["status"] == "COMPLETED" and summary["exit_code"] == 0, summary)
    require(counts["read"] == counts["loaded"] == counts.get("final") == records
            and counts["rejected"] == 0, f"counts {counts} for {records} records")
    require(summary["reconciliation"].get("passed") is True, summary["reconciliation"])
    load_ended = [json.loads(line) for line in err.splitlines()
                 if line.startswith("{") and '"load ended"' in line]
    after = None
    if load_ended:
        stamp = dt.datetime.fromisoformat(load_ended[-1]["timestamp"])
        after = (ended - stamp).total_seconds()
    return {"wall_s": wall, "load_s": summary["phases"]["load_s"], "after_load_s": after,
            "run_id": summary["run_id"], **peak}


def _sample_rss(process: subprocess.Popen, peak: dict[str, Any]) -> None:
    """Peak memory of the launcher and all its descendants, sampled every 0.1 s.

    Sums of VmRSS count shared pages (libraries, the mmapped input file) once per process;
    PSS shares them out, RssAnon leaves file pages out. All three peaks are reported, and
    each process's own peak RSS and RssAnon by role (spawned children in start order: the
    Manager, the processors, the writer; see ``Engine._supervise``).
    """
    keys = ("rss", "pss", "anon", "file")
    peak.update({f"peak_{k}_mb": 0.0 for k in keys}, processes=0)
    per_pid: dict[int, list[Any]] = {}  # pid -> [cmdline, peak rss kB, peak anon kB]
    while process.poll() is None:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(
                    int(entry))
        tree, todo = [], [process.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        sums = dict.fromkeys(keys, 0)
        for pid in tree:
            try:
                status = _kb_fields(Path(f"/proc/{pid}/status").read_text())
                rollup = _kb_fields(Path(f"/proc/{pid}/smaps_rollup").read_text())
                if pid not in per_pid:
                    per_pid[pid] = [Path(f"/proc/{pid}/cmdline").read_bytes(), 0, 0]
            except OSError:
                continue
            sums["rss"] += status.get("VmRSS", 0)
            sums["anon"] += status.get("RssAnon", 0)
            sums["file"] += status.get("RssFile", 0) + status.get("RssShmem", 0)
            sums["pss"] += rollup.get("Pss", 0)
            per_pid[pid][1] = max(per_pid[pid][1], status.get("VmRSS", 0))
            per_pid[pid][2] = max(per_pid[pid][2], status.get("RssAnon", 0))
        for k in keys:
            peak[f"peak_{k}_mb"] = max(peak[f"peak_{k}_mb"], sums[k] / 1024)
        peak["processes"] = max(peak["processes"], len(tree))
        time.sleep(0.1)
    spawned = sorted(p for p, (cmd, *_) in per_pid.items()
                     if b"spawn_main" in cmd and p != process.pid)
    roles = {process.pid: "launcher"}
    if spawned:
        roles.update({spawned[0]: "manager", spawned[-1]: "writer"})
        roles.update({p: f"processor-{i}" for i, p in enumerate(spawned[1:-1], 1)})
    peak["per_process_mb"] = {
        roles.get(p, "resource_tracker" if b"resource_tracker" in cmd else f"other-{p}"):
            {"rss": round(rss / 1024), "anon": round(anon / 1024)}
        for p, (cmd, rss, anon) in sorted(per_pid.items())}


def _kb_fields(text: str) -> dict[str, int]:
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[name.strip()] = int(parts[0])
    return fields


def mfpipe_postgres(path: Path, server: str, records: int, expected: dict[str, Any] | None,
                    **options: Any) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
    """One ``mfpipe run`` into a fresh schema; its staged rows checked against ``expected``."""
    schema, url = pg_schema(server)
    try:
        checkpoint(server)
        result = run_mfpipe(path, url, records, **options)
        columns = None
        if expected is not None:
            columns = checked(sa.create_engine(psycopg_url(url)), expected, "mfpipe's staging")
        return result, columns
    finally:
        drop_schema(server, schema)


def mfpipe_sqlite(path: Path, records: int, expected: dict[str, Any] | None, **options: Any
                  ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        db = Path(tmp) / "mfpipe.db"
        result = run_mfpipe(path, f"sqlite:///{db}", records, **options)
        columns = None
        if expected is not None:
            columns = checked(sqlite_engine(db), expected, "mfpipe's staging")
        return result, columns


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------

def raw_postgres(table: pa.Table, server: str, expected: dict[str, Any],
                 connections: int = 1) -> tuple[float, list[tuple[str, str]]]:
    """``adbc_ingest`` of the decoded rows: one connection and transaction (the issue's
    baseline), or the batches split over ``connections`` threads, one transaction each."""
    import adbc_driver_postgresql.dbapi as pg

    schema, url = pg_schema(server)
    try:
        engine = sa.create_engine(psycopg_url(url))
        create_staging(engine)
        conns = [pg.connect(url) for _ in range(connections)]
        batches = table.to_batches()

        def ingest(i: int) -> None:
            part = table if connections == 1 else pa.Table.from_batches(
                batches[i::connections], table.schema)
            with conns[i].cursor() as cur:
                cur.adbc_ingest(TABLE, part, mode="append")
            conns[i].commit()

        checkpoint(server)
        started = time.perf_counter()
        threads = [threading.Thread(target=ingest, args=(i,)) for i in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        for conn in conns:
            conn.close()
        return elapsed, checked(engine, expected, "raw PostgreSQL")
    finally:
        drop_schema(server, schema)


def sqlite_rows(table: pa.Table) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The rows as Python tuples, bound the way the SQLite loader binds them."""
    friendly = as_python_friendly(table)
    return friendly.column_names, list(zip(*(c.to_pylist() for c in friendly.columns)))


def raw_sqlite(names: list[str], rows: list[tuple[Any, ...]], expected: dict[str, Any]
               ) -> tuple[float, list[tuple[str, str]]]:
    """``executemany`` of pre-decoded tuples in one transaction, the loader's pragmas."""
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        path = Path(tmp) / "raw.db"
        engine = sqlite_engine(path)
        create_staging(engine)
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        columns = ", ".join(f'"{n}"' for n in names)
        statement = f"INSERT INTO {TABLE} ({columns}) VALUES ({', '.join('?' * len(names))})"
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(statement, rows)
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed, checked(engine, expected, "raw SQLite")


def naive_rows(path: Path, records: int) -> Any:
    """Rows of the per-record decoder as dicts with lineage, open_date made a date."""
    decoder = _bench_decode().PerRecordDecoder(load_layout(LAYOUT).record())
    names = [column for *_, column in decoder.specs]
    date_at = names.index("open_date")
    lrecl = decoder.record.size
    with open(path, "rb") as handle:
        for record_no in range(1, records + 1):
            values = list(decoder.decode_record(handle.read(lrecl)))
            d = values[date_at]
            values[date_at] = dt.date(d // 10000, d // 100 % 100, d % 100)
            row = dict(zip(names, values, strict=True))
            row.update(run_id="naive", worker_id=0, chunk_id=0, record_no=record_no)
            yield row


def check_naive(path: Path, table: pa.Table, n: int = 1000) -> int:
    """The naive decoder's values equal mfpipe's on the first ``n`` records."""
    data = table.slice(0, n).drop_columns(list(LINEAGE)).to_pylist()
    for i, (theirs, ours) in enumerate(zip(naive_rows(path, n), data, strict=True)):
        theirs = {k: v for k, v in theirs.items() if k not in LINEAGE}
        require(theirs == ours, f"record {i + 1}: naive {theirs} != mfpipe {ours}")
    return len(data)


def naive_load(path: Path, server: str, records: int) -> float:
    """Records per second of per-record decode + SQLAlchemy executemany, 1,000 rows a call."""
    schema, url = pg_schema(server)
    try:
        engine = sa.create_engine(psycopg_url(url))
        create_staging(engine)
        table = sa.Table(TABLE, sa.MetaData(), autoload_with=engine)
        checkpoint(server)
        started = time.perf_counter()
        with engine.begin() as c:
            batch = []
            for row in naive_rows(path, records):
                batch.append(row)
                if len(batch) == 1000:
                    c.execute(table.insert(), batch)
                    batch = []
            if batch:
                c.execute(table.insert(), batch)
        elapsed = time.perf_counter() - started
        with engine.connect() as c:
            loaded = c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        require(loaded == records, f"naive loader loaded {loaded} of {records}")
        engine.dispose()
        return records / elapsed
    finally:
        drop_schema(server, schema)


# --------------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------------

def best_of(repeat: int, *measures: Callable[[], Any]) -> list[list[Any]]:
    """Run the measures round-robin ``repeat`` times: every one sees the same noise."""
    results: list[list[Any]] = [[] for _ in measures]
    for _ in range(repeat):
        for i, measure in enumerate(measures):
            results[i].append(measure())
    return results


def summarize(runs: list[dict[str, Any]], raw_s: float, records: int) -> dict[str, Any]:
    """The best total and best load of mfpipe's runs, each as a ratio against ``raw_s``."""
    total = min(r["wall_s"] for r in runs)
    load = min(r["load_s"] for r in runs)
    return {"mfpipe_total_s": round(total, 3), "mfpipe_load_s": round(load, 3),
            "ratio_total": round(raw_s / total, 3), "ratio_load": round(raw_s / load, 3),
            "mfpipe_total_records_per_s": round(records / total),
            "mfpipe_load_records_per_s": round(records / load),
            "after_load_s": round(min(r["after_load_s"] or 0 for r in runs), 3),
            "all_total_s": [round(r["wall_s"], 3) for r in runs],
            "all_load_s": [r["load_s"] for r in runs]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.strftime('%H:%M:%S')} load {loadavg()}] {message}", file=sys.stderr,
                  flush=True)

    global DATA
    DATA = args.data_dir
    n = args.records
    path = sample_file(n, DATA)
    table = decoded_table(path)
    expected = expected_fingerprint(table)
    report: dict[str, Any] = {"records": n, "file": str(path), "file_bytes": path.stat().st_size,
                              "repeat": args.repeat, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "loadavg_start": loadavg()}

    if not args.skip_postgres:
        log("PostgreSQL: raw adbc_ingest (1 connection), mfpipe run (defaults) and "
            "--loader postgresql-adbc, alternating")
        raws, runs, adbcs = best_of(
            args.repeat, lambda: raw_postgres(table, args.postgres, expected),
            lambda: mfpipe_postgres(path, args.postgres, n, expected),
            lambda: mfpipe_postgres(path, args.postgres, n, None, loader="postgresql-adbc"))
        require(raws[0][1] == runs[0][1], f"staging shapes differ: raw {raws[0][1]} "
                                          f"mfpipe {runs[0][1]}")
        raw_s = min(r[0] for r in raws)
        pg = {"raw_adbc_ingest_s": round(raw_s, 3), "all_raw_s": [round(r[0], 3) for r in raws],
              **summarize([r[0] for r in runs], raw_s, n),
              "loader_adbc": summarize([r[0] for r in adbcs], raw_s, n), "loadavg": loadavg()}
        if args.raw_connections > 1:
            log(f"PostgreSQL: raw adbc_ingest over {args.raw_connections} connections")
            (par,) = best_of(args.repeat, lambda: raw_postgres(
                table, args.postgres, expected, args.raw_connections))
            pg[f"raw_adbc_ingest_{args.raw_connections}_connections_s"] = round(
                min(p[0] for p in par), 3)
        report["postgresql"] = pg
        log(json.dumps(pg))

        log(f"naive per-record loader on {args.naive_records} records")
        checked = check_naive(path, table)
        naive = max(naive_load(path, args.postgres, args.naive_records)
                    for _ in range(args.repeat))
        report["naive_per_record_postgresql"] = {
            "records": args.naive_records, "checked_records": checked,
            "naive_records_per_s": round(naive),
            "speedup_total": round(pg["mfpipe_total_records_per_s"] / naive, 1),
            "speedup_load": round(pg["mfpipe_load_records_per_s"] / naive, 1),
            "loadavg": loadavg()}
        log(json.dumps(report["naive_per_record_postgresql"]))

    if not args.skip_sqlite:
        log("SQLite: raw executemany, mfpipe run (defaults) and --writers 1, alternating")
        names, rows = sqlite_rows(table)
        raws, runs, ones = best_of(args.repeat, lambda: raw_sqlite(names, rows, expected),
                                   lambda: mfpipe_sqlite(path, n, expected),
                                   lambda: mfpipe_sqlite(path, n, None, writers=1))
        del rows
        require(raws[0][1] == runs[0][1], f"staging shapes differ: raw {raws[0][1]} "
                                          f"mfpipe {runs[0][1]}")
        raw_s = min(r[0] for r in raws)
        report["sqlite"] = {"raw_executemany_s": round(raw_s, 3),
                            "all_raw_s": [round(r[0], 3) for r in raws],
                            **summarize([r[0] for r in runs], raw_s, n),
                            "writers_1": summarize([r[0] for r in ones], raw_s, n),
                            "loadavg": loadavg()}
        log(json.dumps(report["sqlite"]))

    if args.scaling and not args.skip_postgres:
        log("scaling: processors x writers into PostgreSQL, round-robin")
        configs = [(p, w) for p in (1, 2) for w in (1, 2)]
        measured = best_of(args.repeat, *(
            (lambda p=p, w=w: mfpipe_postgres(path, args.postgres, n, None, processors=p,
                                              writers=w)[0]) for p, w in configs))
        raw_s = report["postgresql"]["raw_adbc_ingest_s"]
        report["scaling_postgresql"] = {"loadavg": loadavg(), "rows": [
            {"processors": p, "writers": w, **summarize(runs, raw_s, n)}
            for (p, w), runs in zip(configs, measured, strict=True)]}
        log(json.dumps(report["scaling_postgresql"]))

    if args.diagnose and not args.skip_postgres:
        report["diagnostics"] = diagnose(path, args, n, log)

    for count in args.rss:
        log(f"peak memory, {count} records")
        rss_path = sample_file(count, DATA)
        result, _ = mfpipe_postgres(rss_path, args.postgres, count, None, sample_rss=True)
        report.setdefault("peak_memory_postgresql", []).append(
            {"records": count, "file_mb": round(rss_path.stat().st_size / 1e6),
             "wall_s": round(result["wall_s"], 2), "load_s": result["load_s"],
             **{k: round(v) if isinstance(v, float) else v for k, v in result.items()
                if k.startswith(("peak_", "per_process")) or k == "processes"},
             "loadavg": loadavg()})
        log(json.dumps(report["peak_memory_postgresql"][-1]))
    report["loadavg_end"] = loadavg()
    return report


def diagnose(path: Path, args: argparse.Namespace, n: int, log: Callable[[str], None]
             ) -> dict[str, Any]:
    """Where mfpipe's time outside the load goes (not part of the targets).

    * reconciliation alone: ``mfpipe reconcile RUN_ID`` timed after a run (it re-runs every
      check on the same tables), so promotion ~ after-load time minus this;
    * the same ``mfpipe run`` started through ``python -c`` instead of the console script: a
      spawned child re-runs its parent's main script, so under the console script every
      processor, the writer and the Manager import ``mfpipe.cli`` before doing anything.
    """
    out: dict[str, Any] = {}
    schema, url = pg_schema(args.postgres)
    try:
        checkpoint(args.postgres)
        first = run_mfpipe(path, url, n)
        started = time.perf_counter()
        done = subprocess.run([MFPIPE, "reconcile", first["run_id"], "--db", url, "--json"],
                              capture_output=True, text=True, cwd=tempfile.gettempdir(),
                              check=False)
        out["reconcile_again_s"] = round(time.perf_counter() - started, 3)
        require(done.returncode == 0, done.stderr[-2000:])
        out["run_total_s"] = round(first["wall_s"], 3)
        out["run_load_s"] = first["load_s"]
        out["run_after_load_s"] = round(first["after_load_s"] or 0, 3)
    finally:
        drop_schema(args.postgres, schema)
    entry = [sys.executable, "-c", ("import sys; from mfpipe.cli import entry_point; "
                                    "sys.argv[0] = 'mfpipe'; entry_point()")]
    log("diagnostics: console script against python -c, alternating")
    script, direct = best_of(args.repeat, lambda: mfpipe_postgres(path, args.postgres, n, None)[0],
                             lambda: mfpipe_postgres(path, args.postgres, n, None,
                                                     argv0=entry)[0])
    out["console_script"] = {"total_s": round(min(r["wall_s"] for r in script), 3),
                             "load_s": min(r["load_s"] for r in script)}
    out["python_c"] = {"total_s": round(min(r["wall_s"] for r in direct), 3),
                       "load_s": min(r["load_s"] for r in direct)}
    out["loadavg"] = loadavg()
    log(json.dumps(out))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="server URL (trust auth); every run gets its own schema")
    parser.add_argument("--naive-records", type=int, default=50_000,
                        help="records the naive per-record loader loads (its rate is compared)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for each timing")
    parser.add_argument("--raw-connections", type=int, default=2,
                        help="also time the raw ingest split over this many connections "
                             "(1: skip)")
    parser.add_argument("--scaling", action="store_true", help="processors x writers table")
    parser.add_argument("--diagnose", action="store_true",
                        help="time reconciliation alone and the spawn re-import overhead")
    parser.add_argument("--rss", type=int, nargs="*", default=[],
                        help="record counts for the peak-memory runs, e.g. 1000000 5000000")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=DATA,
                        help="where the generated files are kept (default benchmarks/data)")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
