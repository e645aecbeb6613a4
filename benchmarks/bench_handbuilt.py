"""``mfpipe run`` against the pipeline a user would otherwise build by hand, with the same proof.

The hand-built pipeline (issue 15's yardstick) runs its steps one after the other, each the
fastest this machine offers, on the same file and into the same server:

1. decode the file to Parquet: ``mfpipe convert`` (the command, start-up included);
2. read the Parquet file, ingest it into a staging table in one transaction: ADBC's
   ``adbc_ingest`` (PostgreSQL), ``executemany`` with the loader's pragmas (SQLite);
3. ``INSERT INTO final SELECT ... FROM staging`` in one transaction;
4. the proof: the decoded rows' count, content hash and exact money totals (computed from
   the Parquet file with mfpipe's vectorized digest), then the same three measured by SQL on
   staging and on final (mfpipe's own SQL expressions, SQLite's exact sums included), all
   compared.

mfpipe is measured as ``mfpipe run`` (defaults) on the same file, a fresh schema or SQLite
file each time, alternating with the hand-built pipeline, best of ``--repeat``. The tables
of the hand-built pipeline have no lineage columns and no index: its load is the cheapest
possible. The script stops if any proof fails on either side.

Run: ``.venv/bin/python benchmarks/bench_handbuilt.py --records 1000000 5000000``;
results go to benchmarks/RESULTS.md with the command.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from mfpipe.codec.digest import column_totals, content_hash, hash_columns, money_columns
from mfpipe.db import dialects
from mfpipe.db.dialects.base import Dialect
from mfpipe.db.digest import with_halves_on_overflow
from mfpipe.db.measure import Measured
from mfpipe.db.urls import libpq_uri

HERE = Path(__file__).resolve().parent


def _bench_load() -> Any:
    """bench_load's helpers: the sample file, fresh schemas, ``mfpipe run`` and its checks."""
    spec = importlib.util.spec_from_file_location("bench_load", HERE / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module
    spec.loader.exec_module(module)
    return module


bl = _bench_load()


def convert(path: Path, out: Path) -> None:
    """Step 1: ``mfpipe convert`` to Parquet, as a command."""
    done = subprocess.run([bl.MFPIPE, "convert", str(bl.LAYOUT), str(path), "-o", str(out),
                           "--date", "open_date=YYYYMMDD"],
                          capture_output=True, text=True)
    bl.require(done.returncode == 0, f"convert exited {done.returncode}: {done.stderr[-500:]}")


def source_proof(table: pa.Table) -> dict[str, Any]:
    """What the file holds: the decoded rows' count, content hash and exact totals."""
    money = money_columns(table.schema)
    return {"rows": table.num_rows, "hash": content_hash(table, hash_columns(table.schema)),
            "totals": {k: Decimal(v) for k, v in column_totals(table, money).items()}}


def sql_proof(connection: sa.Connection, table: sa.Table, schema: pa.Schema) -> dict[str, Any]:
    """Count, content hash and exact totals of a table, by mfpipe's SQL, in one scan."""
    dialect = dialects.of(connection)
    measured = Measured({f.name: f.type for f in schema}, hash_columns(schema),
                        money_columns(schema), nul_free=True)
    found = measured.read(with_halves_on_overflow(
        lambda halves: connection.execute(measured.select(table, dialect, halves=halves)).one()),
        0)
    return {"rows": found.rows, "hash": found.content_hash, "totals": found.totals}


def tables(schema: pa.Schema, dialect: Dialect) -> tuple[sa.Table, sa.Table]:
    """Staging and final of the hand-built pipeline: the layout's columns, nothing more."""
    metadata = sa.MetaData()
    return tuple(sa.Table(name, metadata, *(sa.Column(f.name, dialect.sql_type(f))
                                            for f in schema))
                 for name in ("hb_staging", "hb_final"))  # type: ignore[return-value]


def handbuilt(path: Path, url: str, engine: sa.Engine, work: Path) -> dict[str, float]:
    """The four steps, timed each; every proof compared."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    parquet = work / "decoded.parquet"
    convert(path, parquet)
    times["decode_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    decoded = pq.read_table(parquet)
    staging, final = tables(decoded.schema, dialects.of(engine))
    staging.create(engine)
    final.create(engine)
    if engine.dialect.name == "postgresql":
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(libpq_uri(url)) as connection, connection.cursor() as cursor:
            cursor.adbc_ingest(staging.name, decoded, mode="append")
            connection.commit()
    else:
        names, rows = bl.sqlite_rows(decoded)
        connection = sqlite3.connect(engine.url.database, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(f"INSERT INTO {staging.name} ({', '.join(names)}) VALUES "
                               f"({', '.join('?' * len(names))})", rows)
        connection.execute("COMMIT")
        connection.close()
    times["ingest_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    with engine.begin() as c:
        c.execute(sa.insert(final).from_select(decoded.schema.names,
                                               sa.select(*(staging.c[n] for n in
                                                           decoded.schema.names))))
    times["promote_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    expected = source_proof(decoded)
    with engine.connect() as c:
        for table in (staging, final):
            found = sql_proof(c, table, decoded.schema)
            bl.require(found == expected, f"hand-built {table.name}: {found} != {expected}")
    times["prove_s"] = time.perf_counter() - mark
    times["total_s"] = time.perf_counter() - started
    return times


def postgres(path: Path, server: str, records: int) -> tuple[dict[str, float], float]:
    schema, url = bl.pg_schema(server)
    try:
        engine = sa.create_engine(bl.psycopg_url(url))
        with tempfile.TemporaryDirectory(dir=bl.DATA) as work:
            bl.checkpoint(server)
            times = handbuilt(path, url, engine, Path(work))
        engine.dispose()
    finally:
        bl.drop_schema(server, schema)
    schema, url = bl.pg_schema(server)
    try:
        bl.checkpoint(server)
        mfpipe = bl.run_mfpipe(path, url, records)["wall_s"]
    finally:
        bl.drop_schema(server, schema)
    return times, mfpipe


def sqlite(path: Path, records: int) -> tuple[dict[str, float], float]:
    with tempfile.TemporaryDirectory(dir=bl.DATA) as work:
        engine = bl.sqlite_engine(Path(work) / "hb.db")
        times = handbuilt(path, str(engine.url), engine, Path(work))
        engine.dispose()
    with tempfile.TemporaryDirectory(dir=bl.DATA) as work:
        mfpipe = bl.run_mfpipe(path, f"sqlite:///{Path(work) / 'm.db'}", records)["wall_s"]
    return times, mfpipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"loadavg_start": bl.loadavg()}
    for records in args.records:
        path = bl.sample_file(records)
        sides = {"postgresql": functools.partial(postgres, path, args.postgres, records),
                 "sqlite": functools.partial(sqlite, path, records)}
        for name, measure in sides.items():
            if name == "sqlite" and args.skip_sqlite:
                continue
            runs = [measure() for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r[0]["total_s"])[0]
            mfpipe = min(r[1] for r in runs)
            entry = {"handbuilt": {k: round(v, 2) for k, v in best.items()},
                     "mfpipe_total_s": round(mfpipe, 2),
                     "speedup": round(best["total_s"] / mfpipe, 2),
                     "all_handbuilt_s": [round(r[0]["total_s"], 2) for r in runs],
                     "all_mfpipe_s": [round(r[1], 2) for r in runs], "loadavg": bl.loadavg()}
            report[f"{name}_{records}"] = entry
            print(json.dumps({f"{name}_{records}": entry}), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
