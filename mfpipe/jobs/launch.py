"""A launch: every file a job's path or glob matches, one run each, and one outcome for all.

Files run one after another in the launcher's main thread (where SIGTERM stops a run at a
chunk boundary), or a few at a time (``parallel_files``), each its own run with its own
processes (on ``--executor dask`` without a scheduler, the runs share one local cluster).
``stop_on_error`` leaves the files after a failure unstarted. The launch is
COMPLETED when no file failed, SKIPPED when every file was already loaded (exit 99),
PARTIAL when some failed and others loaded, FAILED when all failed (a failed launch exits
with its first failure's code), STOPPED (143) when SIGTERM or SIGINT stopped its runs at a
chunk boundary and started no further file. A launch that loaded files then purges the
staging rows of the finished runs older than the job keeps (``keep_staging_days``, as
``runs purge`` does).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
import structlog

from mfpipe import storage
from mfpipe.codec import DecodePlan
from mfpipe.db.registry import FileFacts, discover
from mfpipe.db.rules import check_rules
from mfpipe.db.retention import purge_staging
from mfpipe.db.runs import RunStore
from mfpipe.db.status import COMPLETED, FAILED, STOPPED
from mfpipe.errors import (EXIT_NOTHING_TO_DO, EXIT_OK, EXIT_STOPPED, EXIT_TEMPORARY,
                           ConfigError, InputError, MfpipeError, first_line)
from mfpipe.jobs.load import SKIPPED, load_file
from mfpipe.pipeline import signals
from mfpipe.pipeline.cluster import launch_run, shared_local_cluster
from mfpipe.pipeline.spec import JobSpec, new_run_id
from mfpipe.pipeline.engine import RunSummary
from mfpipe.pipeline.progress import Progress

PARTIAL = "PARTIAL"
log = structlog.get_logger()


@dataclass
class LaunchSummary:
    """The outcome of every file of one launch."""

    status: str
    exit_code: int
    runs: list[RunSummary] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": 1, "status": self.status, "exit_code": self.exit_code,
                "files": len(self.runs) + len(self.not_started),
                "runs": [r.to_json() for r in self.runs], "not_started": self.not_started}


def matching_files(pattern: str) -> list[str]:
    """The files a source path names, as a launch records them (absolute paths, or objects'
    URLs): itself, or every file its glob matches, sorted."""
    if not storage.has_magic(pattern):
        return [storage.absolute(pattern)]
    found = [storage.absolute(p) for p in storage.glob(pattern)
             if not p.endswith((".bad", ".rejects.jsonl"))]
    if not found:
        raise InputError(pattern, "no file matches (check the path and its folder's "
                                  "permissions)")
    return found


def segments_of(base: JobSpec) -> tuple[str, ...]:
    """``--segments``: every branch bound with ``--branch``, each loaded on its own into
    tables named after it (so no table may be named for them all). Every segment's options
    are checked before the first loads: a key, a condition or a rule that one segment's
    records do not hold is refused at once, not after the others were published."""
    decode = base.source.decode
    if not decode.branches:
        raise ConfigError("--segments loads each branch bound with --branch: bind them "
                          "(--branch BRANCH=COLUMN:V1,V2)")
    if decode.segment:
        raise ConfigError("--segments loads every bound branch; --segment loads one: "
                          "give one of them")
    for given, flag in ((base.target.final_table, "--final-table"),
                        (base.target.staging_table, "--staging-table")):
        if given:
            raise ConfigError(f"--segments loads each segment into tables named after it: "
                              f"{flag} would put them all in one")
    segments = tuple(dict.fromkeys(b.branch for b in decode.branches))
    record = base.source.record()
    for segment in segments:
        spec = base.changed(decode=replace(decode, segment=segment))
        plan = DecodePlan.compile(record, spec.record_decode)
        spec.source.condition(record)
        check_rules(spec.proof.rules, plan.schema)
    return segments


def launch(base: JobSpec, files: list[str], progress: Callable[[], Progress],
           parallel: int = 1, stop_on_error: bool = False, reprocess: bool = False,
           ttl_s: float = 60.0, replace_runs: Sequence[str] = (),
           segments: Sequence[str] = ()) -> LaunchSummary:
    """Load ``files`` with ``base``'s settings, one run per file, or per file and segment
    (``segments``: see :func:`segments_of`; ``replace_runs``: what a reprocess replaces
    by name, see :func:`load_file`)."""
    if len(files) * max(len(segments), 1) > 1:
        execution = base.execution
        for flag, given in (("--bad-file", execution.bad_file),
                            ("--discard-file", execution.discard_file)):
            if given and not os.path.isdir(given):
                raise ConfigError(f"{flag} {given}: with several files or segments it must "
                                  "be a folder (each run writes <input name>.<run id>.<kind> "
                                  "there)")
        if replace_runs:
            raise ConfigError("--replace names the run one corrected file replaces: give "
                              "one file and one segment, not several")
    decode = base.source.decode
    configs = [base] if len(files) == 1 and files[0] == base.source.input_path \
        and not segments else [
        base.changed(input_path=path, run_id=new_run_id(),
                     decode=replace(decode, segment=segment))
        for path in files for segment in (segments or (decode.segment,))]
    _register(base, files)

    def one(config: JobSpec) -> RunSummary:
        if signals.requested():  # stopped by SIGTERM or SIGINT: no further file starts
            return RunSummary(None, STOPPED, EXIT_STOPPED, f"{config.source.input_path}: not "
                              "started, the launch was stopped", {}, {}, 0.0)
        try:
            with launch_run():
                return load_file(config, progress(), reprocess, ttl_s, replace_runs)
        except MfpipeError as exc:  # this file's error before any run took it: the launch
            return RunSummary(None, FAILED, exc.exit_code, str(exc), {}, {}, 0.0)  # goes on
        except sa.exc.OperationalError as exc:  # the database, e.g. SQLite locked too long
            return RunSummary(None, FAILED, EXIT_TEMPORARY, "database unavailable: "
                              + first_line(exc.orig or exc), {}, {}, 0.0)

    runs: list[RunSummary] = []
    not_started: list[str] = []
    execution = base.execution
    # the engines may run in other threads: the launch handles the signals
    with signals.handled(), shared_local_cluster(execution.executor, execution.scheduler,
                                                 execution.processors, len(configs)):
        if parallel <= 1:
            for index, config in enumerate(configs):
                runs.append(one(config))
                if stop_on_error and runs[-1].status not in (COMPLETED, SKIPPED):
                    not_started = [c.source.input_path for c in configs[index + 1:]]
                    break
        else:
            with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="file") as pool:
                runs = list(pool.map(one, configs))
    summary = outcome(runs, not_started)
    if base.execution.keep_staging_days is not None and summary.status in (COMPLETED, PARTIAL):
        _purge_old_staging(base.execution.db_url, base.execution.keep_staging_days)
    return summary


def outcome(runs: list[RunSummary], not_started: list[str]) -> LaunchSummary:
    """The launch's status and exit code from its runs' (see the module docstring)."""
    failed = [r for r in runs if r.status not in (COMPLETED, SKIPPED, STOPPED)]
    loaded = [r for r in runs if r.status == COMPLETED]
    if not failed and any(r.status == STOPPED for r in runs):
        return LaunchSummary(STOPPED, EXIT_STOPPED, runs, not_started)
    if not failed:
        code = EXIT_OK if loaded else EXIT_NOTHING_TO_DO
        return LaunchSummary(COMPLETED if loaded else SKIPPED, code, runs, not_started)
    status = FAILED if len(failed) == len(runs) else PARTIAL
    return LaunchSummary(status, failed[0].exit_code, runs, not_started)


def _purge_old_staging(db_url: str, days: float) -> None:
    """``runs purge --older-than days`` after a launch that loaded files. A purge that fails
    is logged, not made the launch's failure: its files are loaded and proved."""
    store = RunStore(db_url)
    try:
        purged = purge_staging(store, dt.timedelta(days=days))
        log.info("staging purged", older_than_days=days, runs=len(purged),
                 rows=sum(p["rows"] for p in purged))
    except (MfpipeError, sa.exc.SQLAlchemyError) as exc:
        log.warning("staging purge failed: run `mfpipe runs purge` later",
                    error=first_line(exc))
    finally:
        store.close()


def _register(base: JobSpec, files: list[str]) -> None:
    """Record every file found as DISCOVERED before any is loaded."""
    if len(files) < 2:
        return
    store = RunStore(base.execution.db_url)
    try:
        store.check_available(base.execution.retry_s)
        store.prepare_control()
        for path in files:
            try:
                discover(store, FileFacts.stat(path))
            except (OSError, MfpipeError):
                pass  # unreadable: its own run says so, with the right exit code
    finally:
        store.close()
