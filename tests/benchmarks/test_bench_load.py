"""The load benchmark still runs and its honesty checks still bite (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_load.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_load", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_load", None)


class TestBenchLoad:
    def test_small_run_reports_every_comparison(self, bench, postgres_server, tmp_path, capsys):
        """Tiny sizes, one repeat: every section is reported and every honesty check passed."""
        out = tmp_path / "report.json"
        assert bench.main(["--records", "2000", "--naive-records", "300", "--repeat", "1",
                           "--raw-connections", "1", "--postgres", postgres_server,
                           "--data-dir", str(tmp_path), "--json", str(out), "--quiet"]) == 0
        report = json.loads(out.read_text())
        assert json.loads(capsys.readouterr().out) == report
        pg, sqlite = report["postgresql"], report["sqlite"]
        for section in (pg, sqlite, sqlite["writers_1"]):
            assert section["mfpipe_load_s"] <= section["mfpipe_total_s"]
            assert section["ratio_total"] > 0 and section["ratio_load"] > 0
        assert pg["raw_adbc_ingest_s"] > 0 and sqlite["raw_executemany_s"] > 0
        naive = report["naive_per_record_postgresql"]
        assert naive["records"] == 300 and naive["checked_records"] == 1000

    def test_a_different_row_stops_the_benchmark(self, bench, tmp_path):
        """The raw baseline's rows are checked against what the processors hash and total."""
        bench.DATA = tmp_path
        table = bench.decoded_table(bench.sample_file(500, tmp_path))
        expected = bench.expected_fingerprint(table)
        names, rows = bench.sqlite_rows(table)
        _, columns = bench.raw_sqlite(names, rows, expected)
        assert [c for c, _ in columns[:4]] == ["run_id", "worker_id", "chunk_id", "record_no"]
        rows[7] = rows[7][:-1] + (rows[7][-1] + 1,)  # one bonus_points value off by one
        with pytest.raises(SystemExit, match="raw SQLite rows"):
            bench.raw_sqlite(names, rows, expected)

    def test_naive_decoder_agrees_with_mfpipe(self, bench, tmp_path):
        table = bench.decoded_table(bench.sample_file(300, tmp_path))
        assert bench.check_naive(bench.sample_file(300, tmp_path), table, 300) == 300
