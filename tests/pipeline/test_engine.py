"""The engine end to end on real databases: exact values, exact rejects, faults and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from mfpipe.codec import DecodeOptions
from mfpipe.codec.synth import synthesize
from mfpipe.db.runs import RunStore, insert_run
from mfpipe.framing import FramingOptions
from mfpipe.layout import load_layout
from mfpipe.pipeline import generate_file
from mfpipe.pipeline.spec import JobSpec
from mfpipe.pipeline.engine import Engine
from mfpipe.recon.measures import measure_staging
from mfpipe.recon.subject import RunSubject
from tests.support import ROOT, wait_for_commits

LAYOUT = str(ROOT / "mfpipe/data/customer.cpy")
OPTIONS = DecodeOptions(dates=(("open_date", "YYYYMMDD"),))



def sample(tmp_path, n=30_000, recfm="FB", bad=6, seed=11):
    record = load_layout(LAYOUT).record()
    framing = FramingOptions(recfm, lrecl=record.size if recfm == "FB" else None)
    made = generate_file(record, tmp_path / f"in.{recfm}", n, framing, OPTIONS, bad=bad, seed=seed)
    return record, framing, made


def config_for(tmp_path, db_url, framing, made, **overrides):
    values = dict(layout_path=LAYOUT, input_path=made.path, db_url=db_url, framing=framing,
                  decode=OPTIONS, processors=2, writers=2, chunk_records=4_000,
                  bad_file=str(tmp_path / "in.bad"))
    values.update(overrides)
    return JobSpec.of(**values)


def claimed(config: JobSpec) -> RunStore:
    """A store holding the run's first attempt, its row made as a claim makes it (the
    engine loads only into a claimed run)."""
    store = RunStore(config.execution.db_url)
    store.prepare_control()
    with store.engine.begin() as c:
        insert_run(c, config.run_id, job="engine-test", file=config.source.input_path)
    store.lease(config.run_id, 1)
    return store


def staging_rows(db_url, run_id):
    engine = RunStore(db_url).engine
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT * FROM stg_customer_account WHERE run_id = :r "
                                 "ORDER BY record_no"), {"r": run_id}).mappings().all()
        ledger = c.execute(sa.text("SELECT chunk_id, rows_loaded, rows_rejected FROM mfp_chunk "
                                   "WHERE run_id = :r"), {"r": run_id}).all()
        rejects = c.execute(sa.text("SELECT record_no, field, reason FROM mfp_reject "
                                    "WHERE run_id = :r ORDER BY record_no"), {"r": run_id}).all()
    engine.dispose()
    return rows, ledger, rejects


class TestLoad:
    @pytest.mark.parametrize("recfm", ["FB", "VB"])
    def test_every_value_exact_and_rejects_exact(self, tmp_path, db_url, recfm):
        """All good records land with exact values; exactly the corrupted ones are rejected."""
        record, framing, made = sample(tmp_path, recfm=recfm)
        config = config_for(tmp_path, db_url, framing, made)
        summary = Engine(config).run(claimed(config))
        assert (summary.status, summary.exit_code) == ("LOADED", 0)
        rows, ledger, rejects = staging_rows(db_url, config.run_id)
        assert [r[0] for r in rejects] == list(made.bad_records)
        assert len(rows) == made.records - len(made.bad_records)
        assert sum(r[1] for r in ledger) == len(rows) and sum(r[2] for r in ledger) == 6
        expected = synthesize(record, made.records, seed=11, options=OPTIONS)
        for row in rows[::97]:
            i = row["record_no"] - 1
            assert row["cust_id"] == int(expected["cust_id"][i])
            assert Decimal(str(row["balance"])) == Decimal(int(expected["balance"][i])).scaleb(-2)
            assert Decimal(str(row["interest_rate"])) == Decimal(
                int(expected["interest_rate"][i])).scaleb(-5)
            assert row["cust_name"] == str(expected["cust_name"][i]).rstrip()
            assert str(row["open_date"]).replace("-", "")[:8] == str(expected["open_date"][i])

    def test_worker_counts_match_staging(self, tmp_path, db_url):
        """MetricsAggregator per-worker counts equal GROUP BY worker_id on staging."""
        _, framing, made = sample(tmp_path)
        config = config_for(tmp_path, db_url, framing, made)
        store = claimed(config)
        summary = Engine(config).run(store)
        by_worker = {w: m.rows for w, m in
                     measure_staging(RunSubject.load(store, config.run_id)).by("worker").items()}
        assert {int(w): c["written"] for w, c in summary.counts["per_worker"].items()} == by_worker
        assert sum(c["read"] for c in summary.counts["per_worker"].values()) == made.records
        # the processes' own CPU and decoding time are reported (the launcher alone saw
        # none of it: they are the fork server's children)
        assert summary.cpu_s > 0
        assert all(c["busy_s"] > 0 for c in summary.counts["per_worker"].values())

    def test_bad_file_holds_original_bytes(self, tmp_path, db_url):
        """The bad file holds the rejected records byte for byte, RDW included for VB."""
        _, framing, made = sample(tmp_path, recfm="VB")
        config = config_for(tmp_path, db_url, framing, made)
        Engine(config).run(claimed(config))
        bad = (tmp_path / "in.bad").read_bytes()
        assert len(bad) == 6 * 104 and bad[:4] == b"\x00\x68\x00\x00"
        # loaded, not yet published: the chunks' parts stay for a restart should it fail
        parts = tmp_path / f".mfpipe-{config.run_id}.bad.parts"
        assert b"".join(p.read_bytes() for p in sorted(parts.iterdir())) == bad

    def test_max_errors_fails_with_65(self, tmp_path, db_url):
        """More rejects than --max-errors ends the run FAILED with exit code 65; its counts,
        in the summary and in mfp_run, are its ledger's (chunks in flight committed while
        the run ended used to be missing from them)."""
        _, framing, made = sample(tmp_path, n=40_000, bad=400)
        config = config_for(tmp_path, db_url, framing, made, max_errors=10, chunk_records=500)
        store = claimed(config)
        summary = Engine(config).run(store)
        assert (summary.status, summary.exit_code) == ("FAILED", 65)
        assert "--max-errors 10" in summary.message
        _, ledger, rejects = staging_rows(db_url, config.run_id)
        counts, run = summary.counts, store.run(config.run_id)
        assert (counts["loaded"], counts["rejected"]) == (sum(c[1] for c in ledger),
                                                          sum(c[2] for c in ledger))
        assert (run.records_loaded, run.records_rejected, run.chunks) == (
            counts["loaded"], len(rejects), len(ledger))


def _ledger_agrees(db_url, run_id):
    """Every committed chunk has all its rows in staging, and no other rows are there."""
    rows, ledger, _ = staging_rows(db_url, run_id)
    per_chunk: dict[int, int] = {}
    for row in rows:
        per_chunk[row["chunk_id"]] = per_chunk.get(row["chunk_id"], 0) + 1
    return per_chunk == {chunk: loaded for chunk, loaded, _ in ledger if loaded}


class TestFaults:
    @pytest.mark.parametrize("victim", ["processor-1", "writer"])
    def test_sigkill_ends_the_run_failed_quickly(self, tmp_path, db_url, victim):
        """SIGKILL of a processor or the writer: FAILED within seconds, no chunk half-loaded."""
        _, framing, made = sample(tmp_path, n=200_000, bad=0)
        config = config_for(tmp_path, db_url, framing, made, chunk_records=2_000,
                            processors=2, writers=1)
        engine = Engine(config)
        killed = {}

        def kill_when_loading():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(engine.committed) < 3:
                time.sleep(0.05)
            for proc in _children():
                if proc[1] == victim:
                    os.kill(proc[0], signal.SIGKILL)
                    killed["at"] = time.monotonic()
                    return

        threading.Thread(target=kill_when_loading, daemon=True).start()
        summary = engine.run(claimed(config))
        ended = time.monotonic()
        assert killed, "the victim process was never found"
        assert summary.status == "FAILED" and summary.exit_code == 70
        assert victim in summary.message and "SIGKILL" in summary.message
        assert ended - killed["at"] < 10
        assert _ledger_agrees(db_url, config.run_id)

    def test_sigterm_stops_at_a_chunk_boundary(self, tmp_path, db_url):
        """SIGTERM to the launcher: STOPPED, exit 143, every committed chunk complete."""
        _, framing, made = sample(tmp_path, n=400_000, bad=0)
        script = (
            "import sys, json\n"
            "from mfpipe.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
        args = [sys.executable, "-c", script, "run", "--layout", LAYOUT, "--input", made.path,
                "--db", db_url, "--chunk-records", "1000", "--processors", "1", "--writers", "1",
                "--json", "--date", "open_date=YYYYMMDD"]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=tmp_path)
        wait_for_commits(db_url, 3)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        summary = json.loads(out.strip().splitlines()[-1])
        assert process.returncode == 143, err
        assert summary["status"] == "STOPPED"
        assert 0 < summary["counts"]["loaded"] < made.records
        assert _ledger_agrees(db_url, summary["run_id"])


class TestDatabaseFaults:
    def test_terminated_connections_are_retried(self, tmp_path, postgres_url):
        """pg_terminate_backend mid-run: writers reconnect, the run completes, nothing doubles."""
        engine = RunStore(postgres_url).engine
        _, framing, made = sample(tmp_path, n=300_000, bad=3)
        config = config_for(tmp_path, postgres_url, framing, made, chunk_records=2_000,
                            retry_s=30)
        terminated = []

        def terminate():
            wait_for_commits(postgres_url, 5)
            with engine.begin() as c:
                terminated.extend(c.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> "
                    "pg_backend_pid() AND application_name = current_setting('application_name')"
                )).all())

        killer = threading.Thread(target=terminate, daemon=True)
        killer.start()
        summary = Engine(config).run(claimed(config))
        killer.join(5)
        engine.dispose()
        assert terminated, "no connection was terminated"
        assert (summary.status, summary.counts["loaded"]) == ("LOADED", made.records - 3)
        rows, _, rejects = staging_rows(postgres_url, config.run_id)
        assert len({r["record_no"] for r in rows}) == len(rows) == made.records - 3
        assert len(rejects) == 3


def _children() -> list[tuple[int, str]]:
    """(pid, process name) of this process's multiprocessing children."""
    import multiprocessing as mp

    return [(p.pid, p.name) for p in mp.active_children()]
