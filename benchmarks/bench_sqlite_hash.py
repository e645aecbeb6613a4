"""SQLite's content hash: the Python aggregate mfpipe uses, against reading the rows out and
hashing them a batch at a time.

SQLite has no MD5, so some Python runs for every row whichever way. mfpipe's aggregate
``mfp_digest_sum`` is called once per row with the row's canonical text (one Python frame per
row). The alternative keeps Python frames out of the loop: the same canonical rows are read
as BLOBs ``fetchmany`` at a time, and hashed with ``map`` over C functions, as the processors
hash (:func:`mfpipe.codec.digest.row_digests`); the counts and sums would then need a second
statement. Both are timed against building the canonical rows alone (``count(row)``: the SQL
floor), on the customer layout's staging rows, in one run; both must give the processors'
hash.

Run: ``.venv/bin/python benchmarks/bench_sqlite_hash.py --records 1000000``; results go to
benchmarks/RESULTS.md with the command.
"""

from __future__ import annotations

import argparse
import json
import operator
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec.digest import MASK64, hash_columns, row_digests
from mfpipe.db import dialects
from mfpipe.db.dialects.sqlite import register_functions

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_load as bl  # the sample file, its staging table and checks

_FIRST = operator.itemgetter(0)


def staged(records: int, directory: Path) -> tuple[Path, str, int]:
    """A SQLite file holding the sample's staging rows; the SELECT list of their canonical
    row (mfpipe's own SQL) and the processors' content hash."""
    table = bl.decoded_table(bl.sample_file(records))
    expected = bl.expected_fingerprint(table)["content_hash"]
    path = directory / "hash.db"
    engine = bl.sqlite_engine(path)
    bl.create_staging(engine)
    names, rows = bl.sqlite_rows(table)
    with sqlite3.connect(path) as connection:
        connection.executemany(f"INSERT INTO {bl.TABLE} ({', '.join(names)}) VALUES "
                               f"({', '.join('?' * len(names))})", rows)
    schema = bl.layout_schema()
    stg = sa.Table(bl.TABLE, sa.MetaData(), autoload_with=engine)
    dialect = dialects.get("sqlite")
    row = dialect.canonical_row(stg, {f.name: f.type for f in schema}, hash_columns(schema),
                                nul_free=True)
    engine.dispose()
    return path, str(row.compile(dialect=dialect.sqlalchemy(),
                                 compile_kwargs={"literal_binds": True})), expected


def aggregate(connection: sqlite3.Connection, row: str) -> int:
    """mfpipe's way: one Python call per row."""
    found = connection.execute(f"SELECT mfp_digest_sum({row}) FROM {bl.TABLE}").fetchone()[0]
    return int(found) & MASK64


def streamed(connection: sqlite3.Connection, row: str, batch: int = 65_536) -> int:
    """The rows as BLOBs, hashed ``batch`` at a time without a Python frame per row."""
    cursor = connection.execute(f"SELECT CAST({row} AS BLOB) FROM {bl.TABLE}")
    total = 0
    while rows := cursor.fetchmany(batch):
        total += int(row_digests(pa.array(list(map(_FIRST, rows)), pa.binary()))
                     .sum(dtype=np.uint64))
    return total & MASK64


def rows_only(connection: sqlite3.Connection, row: str) -> int:
    """The canonical rows built and counted, nothing hashed: the SQL floor."""
    return int(connection.execute(f"SELECT count({row}) FROM {bl.TABLE}").fetchone()[0])


def best(repeat: int, measure: Callable[[], Any]) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = measure()
        times.append(time.perf_counter() - started)
    return min(times), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    bl.DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=bl.DATA) as tmp:
        path, row, expected = staged(args.records, Path(tmp))
        connection = sqlite3.connect(path)
        register_functions(connection)
        floor_s, count = best(args.repeat, lambda: rows_only(connection, row))
        aggregate_s, by_aggregate = best(args.repeat, lambda: aggregate(connection, row))
        streamed_s, by_stream = best(args.repeat, lambda: streamed(connection, row))
        connection.close()
    bl.require(count == args.records, f"{count} rows, not {args.records}")
    bl.require(by_aggregate == by_stream == expected,
               f"hashes differ: {by_aggregate:x} {by_stream:x} {expected:x}")
    print(json.dumps({
        "records": args.records, "load": bl.loadavg(), "rows_only_s": round(floor_s, 3),
        "aggregate_s": round(aggregate_s, 3), "streamed_s": round(streamed_s, 3),
        "hash_cost_aggregate_s": round(aggregate_s - floor_s, 3),
        "hash_cost_streamed_s": round(streamed_s - floor_s, 3),
        "streamed_over_aggregate": round(streamed_s / aggregate_s, 3)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
