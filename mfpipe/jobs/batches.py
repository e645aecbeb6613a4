"""Batches: many job files launched at once, as ``mfpipe serve`` asks and ``mfpipe batch run``
runs them.

Planning checks a request against the jobs folder: only job files under it, only inputs its
job files name (a path or a glob), only into the service's own database; each file becomes
one operation. The runner is a process of its own (so a batch outlives the service that
queued it): it launches each operation as the CLI would (``mfpipe run JOB --input FILE``, a
process per operation, at most ``max_workers`` at once), records how each ended, stops
launching on a cancel (and asks the running ones to stop at a chunk boundary: SIGTERM, as
an operator's Ctrl-C) or on a failure with ``stop_on_error``. A retry queues the failed,
stopped and cancelled operations again: their launch resumes each FAILED or STOPPED run
from its ledger, exactly once, as ``restart`` does.
"""

from __future__ import annotations

import glob
import os
import contextlib
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog

from mfpipe import storage
from mfpipe.db.batches import BatchStatus, BatchStore, OperationRecord, OpStatus, Planned
from mfpipe.db.registry import HOST, process_exists
from mfpipe.db.runs import RunStore, utcnow
from mfpipe.db.status import COMPLETED, STOPPED
from mfpipe.db.urls import redact
from mfpipe.errors import (EXIT_DATA, EXIT_INTERNAL, EXIT_NO_INPUT, EXIT_NOTHING_TO_DO,
                           EXIT_OK, EXIT_STOPPED, BatchError, ConfigError, InputError,
                           NotAllowedError, first_line)
from mfpipe.jobs.jobfile import read_job
from mfpipe.jobs.launch import matching_files
from mfpipe.jobs.processes import cli_process, last_json, start_detached

log = structlog.get_logger("mfpipe.batch")
POLL_S = 0.5
STOP_S = 30.0  # how long a failed runner waits for its launchers to stop
KILL_AFTER_S = 120.0  # a cancelled launcher still running this long after SIGTERM is killed
MESSAGE = 2000  # characters kept of an operation's message


@dataclass(frozen=True)
class Requested:
    """One item of a launch request: a job file of the jobs folder (relative to it), and
    optionally one of the inputs it names (else every file its input names)."""

    job_file: str
    input_path: str | None = None


def plan(jobs_dir: str | Path, requested: Sequence[Requested], db_url: str) -> list[Planned]:
    """The operations of a launch: one per job file and input file, each checked."""
    folder = Path(jobs_dir).resolve()
    planned = []
    for item in requested:
        job_file = _job_file(folder, item.job_file)
        settings = read_job(job_file)
        named = settings.get("input_path")
        if not named:
            raise ConfigError(f"job file {item.job_file}: gives no source.path to load")
        target = settings.get("db_url")  # target.db, or target.db_env's value
        if target and target != db_url:
            raise ConfigError(f"job file {item.job_file} loads into {redact(target)}, not into "
                              f"this service's database ({redact(db_url)}): its runs would not "
                              "be seen here")
        job = settings.get("job") or Path(item.job_file).stem
        for path in _inputs(item, storage.absolute(named)):
            planned.append(Planned(str(job_file), job, path))
    if not planned:
        raise ConfigError("a launch needs at least one job file")
    return planned


def _job_file(folder: Path, name: str) -> Path:
    """A job file under the jobs folder: no absolute path, no way out of it, TOML."""
    path = (folder / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(folder):
        raise NotAllowedError(f"job file {name}: not in the jobs folder")
    if path.suffix != ".toml" or not path.is_file():
        raise NotAllowedError(f"job file {name}: no such job file (.toml) in the jobs folder")
    return path


def _inputs(item: Requested, named: str) -> list[str]:
    """The files of an item: the one asked for, if the job file's input names it, else
    every file the job file's input names."""
    if item.input_path is None:
        return matching_files(named)
    path = storage.absolute(item.input_path)
    if not storage.has_magic(named):
        allowed = path == named
    else:  # the files the glob names today, as a launch would read it
        try:
            allowed = path in set(matching_files(named))
        except InputError:
            allowed = False
    if not allowed:
        raise NotAllowedError(f"input {item.input_path}: not a file job file {item.job_file} "
                              "names")
    storage.stat(path)  # missing: the clear InputError
    return [path]


def runner_log(batch_id: str) -> Path:
    """Where a batch's runner writes its log lines (``$MFPIPE_SPOOL`` or the temporary
    folder): what it launched, how each ended, and why it failed if it did."""
    return storage.spool_folder() / f"mfpipe-batch-{batch_id}.log"


def start_runner(batches: BatchStore, db_url: str, batch_id: str) -> int:
    """Start the process that runs a queued batch (``mfpipe batch run``), apart from this
    one: it outlives the service that starts it. A runner that cannot start ends the batch
    FAILED (never QUEUED forever)."""
    try:
        return start_detached(db_url, "batch", "run", batch_id, log=runner_log(batch_id))
    except OSError as exc:
        batches.update(batch_id, statuses=[BatchStatus.QUEUED], status=BatchStatus.FAILED,
                       ended_at=utcnow(), message=f"its runner did not start: {exc}")
        raise BatchError(batch_id, f"its runner did not start: {exc}", EXIT_INTERNAL) from None


def recover_batches(batches: BatchStore, batch_id: str | None = None) -> list[str]:
    """Mark FAILED the running batches of this host (or only ``batch_id``) whose runner is
    gone, and their running operations whose launcher is gone too; return their ids. A
    retry resumes them."""
    lost = []
    found = batches.batches(status=BatchStatus.RUNNING, limit=1000)[0] if batch_id is None \
        else [b for b in [batches.batch(batch_id)] if b and b.status == BatchStatus.RUNNING]
    for batch in found:
        if batch.host != HOST or batch.pid is None or process_exists(batch.pid):
            continue
        for op in batches.operations(batch.batch_id):
            if op.status == OpStatus.RUNNING and not (op.pid and process_exists(op.pid)):
                batches.update_op(batch.batch_id, op.op_no, status=OpStatus.FAILED,
                                  ended_at=utcnow(), run_ids=batches.runs_of(op),
                                  message="its launcher is gone (the host or the batch "
                                          "runner stopped): retry resumes its run")
        if batches.update(batch.batch_id, statuses=[BatchStatus.RUNNING],
                          status=BatchStatus.FAILED, ended_at=utcnow(),
                          message="its runner is gone: retry runs what did not finish"):
            lost.append(batch.batch_id)
    return lost


class _Launched:
    """One operation's launcher process, its output kept in temporary files."""

    def __init__(self, op: OperationRecord, db_url: str) -> None:
        self.op = op
        self.out: IO[bytes] = tempfile.TemporaryFile()
        self.err: IO[bytes] = tempfile.TemporaryFile()
        # the file itself, even if its name holds glob characters ("a[1].dat")
        self.process = cli_process(db_url, "run", op.job_file, "--input",
                                   glob.escape(op.input_path), "--json", stdout=self.out,
                                   stderr=self.err)
        self.stopped_at: float | None = None

    def stop(self) -> None:
        """Ask it to stop at the next chunk boundary (its run ends STOPPED, restartable);
        one that has not ended ``KILL_AFTER_S`` later (stuck in the database) is killed:
        its run, left STARTED by a dead launcher, is recovered FAILED and resumes on retry."""
        if self.process.poll() is not None:
            return
        if self.stopped_at is None:
            self.process.send_signal(signal.SIGTERM)
            self.stopped_at = time.monotonic()
        elif time.monotonic() - self.stopped_at > KILL_AFTER_S:
            self.process.kill()

    def outcome(self) -> tuple[str, int, str]:
        """How it ended: status, exit code, message (its JSON summary's, or its last log
        lines)."""
        code = self.process.returncode
        self.out.seek(0)
        summary = last_json(self.out.read())
        message = str(summary.get("message") or "") if summary else ""
        if not summary:
            self.err.seek(0)
            message = self.err.read().decode("utf-8", "replace")[-MESSAGE:]
        for handle in (self.out, self.err):
            handle.close()
        ended: dict[int, OpStatus] = {EXIT_OK: OpStatus.COMPLETED,
                                      EXIT_NOTHING_TO_DO: OpStatus.SKIPPED,
                                      EXIT_STOPPED: OpStatus.STOPPED}
        return ended.get(code, OpStatus.FAILED), code, message[:MESSAGE]


def run_batch(db_url: str, batch_id: str) -> int:
    """Run a queued batch to its end (``mfpipe batch run``); the exit code in the CLI's
    vocabulary: 0 when every operation loaded or had nothing to do, 65 when one failed,
    143 when the batch was cancelled."""
    store = RunStore.existing(db_url)
    batches = BatchStore(store)
    try:
        batches.prepare()
        batch = batches.batch(batch_id)
        if batch is None:
            raise BatchError(batch_id, "no such batch in this database", EXIT_NO_INPUT)
        if not batches.update(batch_id, statuses=[BatchStatus.QUEUED],
                              status=BatchStatus.RUNNING, started_at=utcnow(), host=HOST,
                              pid=os.getpid(), message=None):
            raise BatchError(batch_id, f"is {batch.status}, not QUEUED: another runner has "
                             "it, or it ended (retry queues it again)")
        return _Runner(store, batches, batch_id, db_url).run()
    finally:
        store.close()


class _Runner:
    def __init__(self, store: RunStore, batches: BatchStore, batch_id: str,
                 db_url: str) -> None:
        self.store, self.batches, self.batch_id, self.db_url = store, batches, batch_id, db_url
        self.running: dict[int, _Launched] = {}
        self.cancelled = False

    def run(self) -> int:
        previous = signal.signal(signal.SIGTERM, self._on_signal)
        try:
            while self._step():
                time.sleep(POLL_S)
        except Exception as exc:  # the database away past its retries, a defect: never
            log.exception("batch runner failed", batch_id=self.batch_id)  # left RUNNING
            return self._abandon(exc)
        finally:
            signal.signal(signal.SIGTERM, previous)
        return self._end()

    def _abandon(self, exc: Exception) -> int:
        """Stop the running operations (at a chunk boundary: their runs are restartable)
        and end the batch FAILED, as far as the database lets this runner say so."""
        for launched in self.running.values():
            launched.stop()
        for launched in self.running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                launched.process.wait(timeout=STOP_S)
        with contextlib.suppress(Exception):
            for launched in self.running.values():
                self._ended(launched)
            self.batches.update(self.batch_id, status=BatchStatus.FAILED, ended_at=utcnow(),
                                message=f"the batch runner failed: {first_line(exc)}; retry "
                                        "runs what did not finish")
        return EXIT_INTERNAL

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.cancelled = True

    def _step(self) -> bool:
        """Collect the ended operations, start the next ones; False when nothing is left."""
        batch = self.batches.batch(self.batch_id)
        assert batch is not None
        self.cancelled = self.cancelled or batch.cancel_requested
        for op_no, launched in list(self.running.items()):
            if launched.process.poll() is not None:
                self._ended(launched)
                del self.running[op_no]
            elif self.cancelled:
                launched.stop()
        ops = self.batches.operations(self.batch_id)
        pending = [op for op in ops if op.status == OpStatus.PENDING]
        failed = any(op.status in (OpStatus.FAILED, OpStatus.STOPPED) for op in ops)
        if self.cancelled or (batch.stop_on_error and failed):
            why = "the batch was cancelled" if self.cancelled else \
                "an earlier operation failed (stop on error)"
            for op in pending:
                self.batches.update_op(self.batch_id, op.op_no, status=OpStatus.CANCELLED,
                                       message=f"not started: {why}")
            pending = []
        width = batch.max_workers if batch.parallel else 1
        for op in pending[:max(0, width - len(self.running))]:
            self._start(op)
        return bool(self.running or pending)

    def _start(self, op: OperationRecord) -> None:
        started = utcnow()
        launched = _Launched(op, self.db_url)
        self.running[op.op_no] = launched
        self.batches.update_op(self.batch_id, op.op_no, status=OpStatus.RUNNING,
                               started_at=started, ended_at=None, host=HOST,
                               pid=launched.process.pid, tries=op.tries + 1, exit_code=None)
        log.info("operation started", batch_id=self.batch_id, op_no=op.op_no,
                 job=op.job, input=op.input_path)

    def _ended(self, launched: _Launched) -> None:
        status, code, message = launched.outcome()
        op = next(o for o in self.batches.operations(self.batch_id)
                  if o.op_no == launched.op.op_no)
        run_ids = self.batches.runs_of(op)
        if code < 0:  # killed by a signal before it could say: its runs tell what it did
            status = self._by_runs(run_ids)
            message = message or f"its launcher was ended by signal {-code}"
        self.batches.update_op(self.batch_id, op.op_no, status=status, exit_code=code,
                               ended_at=utcnow(), run_ids=run_ids, message=message)
        log.info("operation ended", batch_id=self.batch_id, op_no=op.op_no, status=status,
                 exit_code=code)

    def _by_runs(self, run_ids: list[str]) -> OpStatus:
        """An operation's outcome by its runs' statuses: COMPLETED when every run is (a
        signal that came as the launcher exited), STOPPED when one stopped, else FAILED."""
        found = [self.store.run(r) for r in run_ids]
        statuses = {run.status for run in found if run is not None}
        if statuses and statuses <= {COMPLETED}:
            return OpStatus.COMPLETED
        return OpStatus.STOPPED if STOPPED in statuses else OpStatus.FAILED

    def _end(self) -> int:
        ops = self.batches.operations(self.batch_id)
        counts = {s: sum(op.status == s for op in ops) for s in OpStatus}
        failed = counts[OpStatus.FAILED] + counts[OpStatus.STOPPED] + \
            counts[OpStatus.RUNNING] + counts[OpStatus.PENDING]  # not this runner's: unproven
        status = BatchStatus.CANCELLED if self.cancelled else \
            BatchStatus.FAILED if failed or counts[OpStatus.CANCELLED] else BatchStatus.COMPLETED
        summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
        self.batches.update(self.batch_id, status=status, ended_at=utcnow(), message=summary)
        log.info("batch ended", batch_id=self.batch_id, status=status, operations=summary)
        return EXIT_OK if status == BatchStatus.COMPLETED else \
            EXIT_STOPPED if status == BatchStatus.CANCELLED else EXIT_DATA
