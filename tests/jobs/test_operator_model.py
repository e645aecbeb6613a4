"""A model-based test of what operators do to nightly loads, on SQLite and PostgreSQL.

Hypothesis drives random sequences of the operator's commands over two landing paths and
four file contents: a file landing (a new night, a changed file, a re-send under the same or
another name), run, reprocess (alone or replacing a named run), restart, recover, abandon,
purge, launches stopped by SIGTERM or killed by SIGKILL (launcher, a processor, the writer)
after a few commits, and a staging row of an unpublished run changed or deleted behind
mfpipe's back (after its chunk committed, before the run's publication). After every step
the promise is checked against the database:

- every final row belongs to a COMPLETED run, and each COMPLETED run's final rows are exactly
  its file's rows (count and content hash): no FAILED, STOPPED or ABANDONED run's rows are
  there, nothing is doubled, nothing is lost;
- at most one COMPLETED run per content (job, table and record are the same here);
- every run that is not running has recorded counts equal to its ledger's;
- each COMPLETED run's bad file holds exactly its file's rejected records, once each, in
  record order, whatever was killed and restarted on the way;
- a content once published stays published, unless a reprocess replaced it by name;
- exit codes say what happened: a run that exits 0 published its content, 99 means it was
  published already, 65 (its proof failed) only for a run whose staging was tampered with.

The example counts are small in CI (``MFPIPE_MODEL_EXAMPLES``, ``MFPIPE_MODEL_STEPS``): each
step starts real processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule)

from mfpipe.cli import main
from mfpipe.db.runs import RunStore
from mfpipe.db.status import ACTIVE
from tests.jobs.support import (LAYOUT, descendants_of, file_fingerprint, final_fingerprint,
                                keyed_file, launcher, wait_gone)

ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--processors", "2",
        "--writers", "1", "--chunk-records", "40", "--json"]
CONTENTS = [(400, 1), (480, 2), (360, 3), (440, 4)]  # records, seed
BAD_CONTENT = 0  # the content with rejected records (the one drawn most)
PATHS = ("a.dat", "b.dat")
VICTIMS = ("launcher", "processor-1", "writer")
EXAMPLES = int(os.environ.get("MFPIPE_MODEL_EXAMPLES", "6"))
STEPS = int(os.environ.get("MFPIPE_MODEL_STEPS", "20"))


@pytest.fixture(scope="module")
def contents(tmp_path_factory) -> list[tuple[bytes, tuple[int, int], bytes]]:
    """The four file contents, with their fingerprints (rows, content hash) and the bytes
    their bad file must hold: one content has a bad packed digit in every 50th record."""
    folder = tmp_path_factory.mktemp("contents")
    made = []
    for index, (records, seed) in enumerate(CONTENTS):
        path = Path(keyed_file(folder / f"{index}.dat", records, seed=seed,
                               first_key=1 + 1_000 * index))
        data = bytearray(path.read_bytes())
        bad = range(0, records, 50) if index == BAD_CONTENT else range(0)
        for record in bad:
            data[record * 100 + 53] = 0xFF
        path.write_bytes(bytes(data))
        made.append((bytes(data), file_fingerprint(str(path)),
                     b"".join(data[r * 100:(r + 1) * 100] for r in bad)))
    return made


class Operators(RuleBasedStateMachine):
    """One database, two landing paths, the operator's commands."""

    db_kind = "sqlite"
    postgres = ""
    files: list[tuple[bytes, tuple[int, int], bytes]] = []

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="mfpipe-model-"))
        self.schema = ""
        if self.db_kind == "sqlite":
            self.db = f"sqlite:///{self.dir / 'mfpipe.db'}"
        else:
            self.schema = f"m_{secrets.token_hex(4)}"
            self._admin(f"CREATE SCHEMA {self.schema}")
            self.db = f"{self.postgres}?options=-csearch_path%3D{self.schema}"
        self.landed: dict[str, int] = {}
        self.published: set[str] = set()  # contents (sha256) known published
        self.tampered: set[str] = set()  # runs whose staging was changed after their chunks

    def teardown(self) -> None:
        if self.schema:
            self._admin(f"DROP SCHEMA {self.schema} CASCADE")
        shutil.rmtree(self.dir, ignore_errors=True)

    def _admin(self, sql: str) -> None:
        engine = sa.create_engine(RunStore(self.postgres).engine.url)
        with engine.begin() as c:
            c.execute(sa.text(sql))
        engine.dispose()

    # -- what the operator does ---------------------------------------------------------

    @initialize(path=st.sampled_from(PATHS), content=st.integers(0, len(CONTENTS) - 1))
    def first_night(self, path: str, content: int) -> None:
        """Every sequence starts with a file landed (without one, most steps do nothing)."""
        self.land(path, content)

    @rule(path=st.sampled_from(PATHS), content=st.integers(0, len(CONTENTS) - 1))
    def land(self, path: str, content: int) -> None:
        """A file lands: a new night, a changed file, or a re-send (a new mtime)."""
        (self.dir / path).write_bytes(self.files[content][0])
        self.landed[path] = content

    @precondition(lambda self: self.landed)
    @rule(data=st.data())
    def run(self, data: st.DataObject) -> None:
        path = self._path(data)
        code, summary = self._cli("run", "--input", path)
        if code == 65:  # it resumed a run whose staging was tampered with: not published
            assert summary["run_id"] in self.tampered, summary
            event("a tampered run refused its publication")
            return
        assert code in (0, 99), summary
        self.published.add(self._sha(path))
        if code == 0:
            assert summary["status"] == "COMPLETED" and summary["reconciliation"]["passed"]

    @precondition(lambda self: self.landed)
    @rule(data=st.data())
    def reprocess(self, data: st.DataObject) -> None:
        path = self._path(data)
        code, summary = self._cli("reprocess", path)
        assert code in (0, 64), summary
        if code == 0:
            self.published.add(self._sha(path))

    @precondition(lambda self: self.landed)
    @rule(data=st.data())
    def reprocess_replacing(self, data: st.DataObject) -> None:
        """A corrected re-send names the published run of other content it replaces."""
        path = self._path(data)
        others = {r["run_id"]: r["file_sha256"] for r in self._runs()
                  if r["status"] == "COMPLETED" and r["file_sha256"] != self._sha(path)}
        if not others:
            return
        victim = data.draw(st.sampled_from(sorted(others)), label="replaced")
        code, summary = self._cli("reprocess", path, "--replace", victim)
        assert code == 0, summary
        self.published.discard(others[victim])
        self.published.add(self._sha(path))

    @precondition(lambda self: self.landed)
    @rule(data=st.data(), victim=st.sampled_from(VICTIMS), commits=st.integers(1, 8),
          command=st.sampled_from(["run", "reprocess"]))
    def killed(self, data: st.DataObject, victim: str, commits: int, command: str) -> None:
        """A launch whose launcher, a processor or the writer is SIGKILLed after a few of
        its chunks commit (or that ends first)."""
        path = self._path(data)
        args = [command, "--input", path] if command == "run" else [command, path]
        if victim == "launcher":
            self._launcher(args, signal.SIGKILL, commits)
        else:
            self._child_killed(args, victim, commits)

    @precondition(lambda self: self.landed)
    @rule(data=st.data(), commits=st.integers(1, 8))
    def stopped(self, data: st.DataObject, commits: int) -> None:
        """SIGTERM (Airflow's timeout) after a few commits: STOPPED at a chunk boundary."""
        self._launcher(["run", "--input", self._path(data)], signal.SIGTERM, commits)

    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        runs = {r["run_id"]: r["file_sha256"] for r in self._runs()}
        if not runs:
            return
        run_id = data.draw(st.sampled_from(sorted(runs)), label="restarted")
        code, summary = self._cli("restart", run_id, args=["--json"])
        assert code in (0, 64, 66, 99) or (code == 65 and run_id in self.tampered), summary
        if code == 65:
            event("a tampered run refused its publication")
        if code == 0:
            self.published.add(runs[run_id])

    @precondition(lambda self: self._unpublished_with_chunks())
    @rule(data=st.data(), how=st.sampled_from(["change", "delete"]))
    def tamper(self, data: st.DataObject, how: str) -> None:
        """Someone changes (or deletes) a staging row of a run that failed or stopped, in
        a chunk its writer proved and committed: no later publication may carry it."""
        run_id = data.draw(st.sampled_from(self._unpublished_with_chunks()), label="tampered")
        first = (f"run_id = '{run_id}' AND record_no = (SELECT min(record_no) FROM "
                 f"stg_customer_account WHERE run_id = '{run_id}')")
        self._execute(f"UPDATE stg_customer_account SET cust_name = 'TAMPERED' WHERE {first}"
                      if how == "change" else f"DELETE FROM stg_customer_account WHERE {first}")
        self.tampered.add(run_id)
        event(f"staging tampered with ({how})")

    @precondition(lambda self: self.tampered & set(self._unpublished_with_chunks()))
    @rule(data=st.data())
    def restart_tampered(self, data: st.DataObject) -> None:
        """The operator restarts a run whose staging was tampered with: its proof fails (65)
        and nothing of it is published."""
        run_id = data.draw(st.sampled_from(sorted(self.tampered & set(
            self._unpublished_with_chunks()))), label="restarted")
        code, summary = self._cli("restart", run_id, args=["--json"])
        assert code == 65 and summary["status"] == "FAILED", summary
        event("a tampered run refused its publication")

    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        runs = sorted(r["run_id"] for r in self._runs())
        if runs:
            run_id = data.draw(st.sampled_from(runs), label="abandoned")
            assert main(["runs", "abandon", run_id, "--db", self.db]) in (0, 64)

    @rule()
    def recover(self) -> None:
        assert main(["runs", "recover", "--db", self.db]) == self._tidy_code()

    @rule()
    def purge(self) -> None:
        assert main(["runs", "purge", "--older-than", "0", "--db", self.db]) == self._tidy_code()

    # -- the promise --------------------------------------------------------------------

    @invariant()
    def promise_holds(self) -> None:
        runs = {r["run_id"]: r for r in self._runs()}
        completed = {r: run for r, run in runs.items() if run["status"] == "COMPLETED"}
        assert set(self._final_rows()) <= set(completed), "rows of an unpublished run"
        twice = [sha for sha, n in Counter(r["file_sha256"] for r in completed.values())
                 .items() if n > 1]
        assert not twice, f"content published by two runs: {twice}"
        fingerprints = {self._sha_of(content): fp for content, fp, _ in self.files}
        rejected = {self._sha_of(content): bad for content, _, bad in self.files}
        for run_id, run in completed.items():
            assert final_fingerprint(self.db, run_id) == fingerprints[run["file_sha256"]]
            bad = Path(f"{run['file']}.{run_id}.bad")  # each reject once, in record order
            assert (bad.read_bytes() if bad.exists() else b"") == \
                rejected[run["file_sha256"]], f"bad file of {run_id}"
        assert self.published <= {r["file_sha256"] for r in completed.values()}
        ledger = self._ledger()
        for run_id, run in runs.items():
            if run["status"] not in ACTIVE:
                recorded = tuple(int(run[k] or 0) for k in
                                 ("records_read", "records_loaded", "records_rejected"))
                assert recorded == ledger.get(run_id, (0, 0, 0)), (run_id, run["status"])

    # -- helpers ------------------------------------------------------------------------

    def _path(self, data: st.DataObject) -> str:
        return str(self.dir / data.draw(st.sampled_from(sorted(self.landed)), label="path"))

    def _sha(self, path: str) -> str:
        return self._sha_of(Path(path).read_bytes())

    @staticmethod
    def _sha_of(content: bytes) -> str:
        import hashlib

        return hashlib.sha256(content).hexdigest()

    def _cli(self, *command: str, args: list[str] = ARGS) -> tuple[int, dict]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main([*command, *args, "--db", self.db])
        lines = out.getvalue().strip().splitlines()
        return code, json.loads(lines[-1]) if lines else {}

    def _query(self, sql: str) -> list[sa.RowMapping]:
        store = RunStore(self.db)
        try:
            with store.engine.connect() as c:
                return list(c.execute(sa.text(sql)).mappings())
        except sa.exc.DatabaseError:  # the tables do not exist yet
            return []
        finally:
            store.close()

    def _unpublished_with_chunks(self) -> list[str]:
        """The FAILED and STOPPED runs that committed chunks."""
        return sorted(r["run_id"] for r in self._query(
            "SELECT DISTINCT r.run_id FROM mfp_run r JOIN mfp_chunk c ON c.run_id = r.run_id "
            "WHERE r.status IN ('FAILED', 'STOPPED')"))

    def _execute(self, sql: str) -> None:
        store = RunStore(self.db)
        try:
            with store.engine.begin() as c:
                c.execute(sa.text(sql))
        finally:
            store.close()

    def _runs(self) -> list[sa.RowMapping]:
        return self._query("SELECT * FROM mfp_run ORDER BY run_id")

    def _final_rows(self) -> dict[str, int]:
        return {r["last_run_id"]: r["n"] for r in self._query(
            "SELECT last_run_id, count(*) AS n FROM customer_account GROUP BY last_run_id")}

    def _ledger(self) -> dict[str, tuple[int, int, int]]:
        return {r["run_id"]: (int(r["records"]), int(r["loaded"]), int(r["rejected"]))
                for r in self._query(
                    "SELECT run_id, sum(last_record_no - first_record_no + 1) AS records, "
                    "sum(rows_loaded) AS loaded, sum(rows_rejected) AS rejected "
                    "FROM mfp_chunk GROUP BY run_id")}

    def _tidy_code(self) -> int:
        """What recover and purge exit with: 0, or 66 before the database held any run."""
        return 0 if self._query("SELECT count(*) AS n FROM mfp_run") else 66

    def _commits(self) -> int:
        found = self._query("SELECT count(*) AS n FROM mfp_chunk")
        return int(found[0]["n"]) if found else 0

    def _launcher(self, command: list[str], sig: signal.Signals, commits: int) -> None:
        """The command in a process of its own, sent ``sig`` once ``commits`` more chunks
        are in (or not at all, if it ends first); its children must leave with it."""
        target = self._commits() + commits
        process = launcher([*command, *ARGS, "--db", self.db], self.dir)
        while process.poll() is None and self._commits() < target:
            time.sleep(0.01)
        children = descendants_of(process.pid)
        if process.poll() is None:
            process.send_signal(sig)
        process.communicate(timeout=120)
        wait_gone(children)

    def _child_killed(self, command: list[str], victim: str, commits: int) -> None:
        """The command in this process, its ``victim`` child SIGKILLed after ``commits``."""
        target, done = self._commits() + commits, threading.Event()

        def kill() -> None:
            while not done.is_set() and self._commits() < target:
                time.sleep(0.01)
            for child in mp.active_children():
                if child.name == victim and not done.is_set():
                    os.kill(child.pid, signal.SIGKILL)
                    return

        thread = threading.Thread(target=kill, daemon=True)
        thread.start()
        try:
            self._cli(*command)
        finally:
            done.set()
            thread.join(10)


MODEL_SETTINGS = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                          suppress_health_check=list(HealthCheck))


class TestOperatorModel:
    def test_sqlite(self, contents):
        """The promise holds after every step of random operator sequences on SQLite."""
        _run_model("sqlite", "", contents)

    def test_postgresql(self, contents, postgres_server):
        """The same on the PostgreSQL server."""
        _run_model("postgresql", postgres_server, contents)


def _run_model(kind: str, postgres: str, contents: list) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    machine = type(f"Operators_{kind}", (Operators,),
                   {"db_kind": kind, "postgres": postgres, "files": contents})
    run_state_machine_as_test(machine, settings=MODEL_SETTINGS)
