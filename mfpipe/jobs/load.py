"""Loading one file as an operator asks for it: claim it, run it, promote it, reconcile it.

The file is claimed in the registry first (a file held by a live launcher exits 75; one
already loaded and unchanged, or whose content the target already holds under another
name, is skipped with exit 99). A run that completes is checked against the file again (a
file that changed or vanished while it was read fails with exit 66), promoted in one
transaction (a reprocess replaces the earlier load's rows in that same transaction) and
reconciled; failed fail-severity checks end it FAILED with exit 65, its rows left for
inspection until the file is loaded again, and the report says which check failed and
where.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace

import sqlalchemy as sa
import structlog

from mfpipe.db.control import mfp_run
from mfpipe.db.registry import SKIPPED, SUCCESS, Claim, FileFacts, FileRegistry
from mfpipe.db.runs import COMPLETED, FAILED, RunStore, utcnow
from mfpipe.errors import (EXIT_DATA, EXIT_INTERNAL, EXIT_NO_INPUT, EXIT_TEMPORARY, MfpipeError,
                           first_line)
from mfpipe.framing import iter_chunks
from mfpipe.pipeline import forking
from mfpipe.pipeline.config import RunConfig
from mfpipe.pipeline.engine import Engine, RunSummary
from mfpipe.pipeline.progress import Progress
from mfpipe.pipeline.source import open_input
from mfpipe.recon import ReconciliationReport, ReconciliationService
from mfpipe.recon.subject import RunSubject, staging_side

EXIT_NOTHING_TO_DO = 99
log = structlog.get_logger()


def load_file(config: RunConfig, progress: Progress | None = None, reprocess: bool = False,
              ttl_s: float = 60.0) -> RunSummary:
    """Claim, load, promote and reconcile one file (see the module docstring)."""
    facts = _facts(config.input_path)
    config = replace(config, input_path=facts.path)  # absolute: restart may run elsewhere
    store = RunStore(config.db_url, config.run_id)
    try:
        store.check_available(config.retry_s)
        store.prepare_control()
        registry = FileRegistry(store, ttl_s)
        claim = registry.claim(facts, config.run_id, reprocess)
        if claim.outcome != "claimed":
            return _not_loaded(config, claim)
        loaded_as = None if reprocess else _same_content_loaded(store, config, facts)
        if loaded_as:
            registry.release(facts.path, config.run_id, SKIPPED, last_run_id=loaded_as)
            return _not_loaded(config, Claim("skip", loaded_as))
        # kept with the run's options, so that a restart replaces them too
        config = replace(config, file_sha256=facts.sha256,
                         replaces=_earlier_loads(store, facts, reprocess))
        try:
            summary = Engine(config, progress).run(store)
            finish(store, config, summary, facts)
        except BaseException:  # never leave the file claimed by a run that ended in error
            registry.release(facts.path, config.run_id, FAILED)
            raise
        release(registry, facts.path, summary)
        return summary
    finally:
        store.close()


def finish(store: RunStore, config: RunConfig, summary: RunSummary, facts: FileFacts,
           restarted: bool = False) -> None:
    """After the engine: check the file did not change, promote, reconcile, and only then
    end the run COMPLETED (or FAILED), in ``mfp_run`` and in ``summary``.

    Until then the run stays STARTED with a fresh heartbeat: a launcher killed in the
    meantime leaves a run that ``runs recover`` (or the next launch) marks FAILED and
    ``restart`` finishes, never one that says COMPLETED without its proof. ``restarted``:
    the dead launcher's promotion may have committed, so this one first removes what that
    one wrote."""
    if summary.status != COMPLETED:  # the engine ended it already
        return
    changed = _changed(facts)
    if changed:
        _fail(store, summary, EXIT_NO_INPUT, f"{facts.path} {changed} while it was read; "
                                             "nothing was promoted: run it again once the "
                                             "file is complete")
        return
    try:
        with store.beating(config.run_id, config.heartbeat_s):
            report = promote_and_reconcile(store, config.run_id, again=restarted)
    except Exception as exc:  # the rows are safe in staging: a restart finishes the run
        log.exception("promotion or reconciliation failed", run_id=config.run_id)
        _fail(store, summary, exc.exit_code if isinstance(exc, MfpipeError) else EXIT_INTERNAL,
              f"promotion or reconciliation failed ({type(exc).__name__}: {first_line(exc)}); "
              f"every record is in staging: `mfpipe restart {config.run_id}` promotes and "
              "reconciles again")
        return
    summary.counts["final"] = report.counts.final
    summary.reconciliation = report.summary()
    if not report.passed:
        _fail(store, summary, EXIT_DATA, "reconciliation failed: " + ", ".join(report.failed))
        return
    store.update(config.run_id, status=COMPLETED, exit_code=0, ended_at=utcnow(),
                 heartbeat_at=utcnow())


def release(registry: FileRegistry, path: str, summary: RunSummary) -> None:
    """End the run's claim on its file: SUCCESS (the file's last load) or FAILED."""
    loaded = summary.status == COMPLETED
    registry.release(path, summary.run_id, SUCCESS if loaded else FAILED,
                     summary.run_id if loaded else None)


def promote_and_reconcile(store: RunStore, run_id: str, again: bool = False
                          ) -> ReconciliationReport:
    """Promote a loaded run's staging rows to its final table (removing the earlier loads a
    reprocess replaces; ``again``: a restarted run's, see ``finish``), then reconcile it.

    The run's staging rows no longer change, so they are measured (a full scan that hashes
    every row) and checked against the business rules on a second connection while
    promotion writes the final table, and the final table is measured as soon as promotion
    commits, whether or not the staging side is done: the scans and the insert share the
    machine's cores instead of taking turns. On SQLite the staging side runs in a process
    of its own: its hash calls Python once per row, and in a thread it would contend for
    the GIL with the final table's."""
    subject = RunSubject.load(store, run_id)
    pool: Executor = (ProcessPoolExecutor(1, mp_context=forking.context())
                      if store.dialect == "sqlite"
                      else ThreadPoolExecutor(1, thread_name_prefix="measure-staging"))
    with pool:
        staged = pool.submit(staging_side, store.url, run_id)
        store.promote(run_id, subject.staging, subject.final, subject.config.key,
                      subject.config.replaces, again)
        subject.final_measure  # noqa: B018 (measured now, kept by the subject)
        subject.adopt_staging_side(staged.result())
    return ReconciliationService(store).reconcile(run_id, subject)


def run_load(config: RunConfig, progress: Progress | None = None) -> RunSummary:
    """Load a file as a new run outside the registry (no claim, no skip): the demo's way."""
    store = RunStore(config.db_url, config.run_id)
    try:
        store.check_available(config.retry_s)
        facts = _facts(config.input_path)
        summary = Engine(config, progress).run(store)
        finish(store, config, summary, facts)
        return summary
    finally:
        store.close()


def _facts(path: str) -> FileFacts:
    with open_input(path):  # missing, a directory, unreadable: the clear InputError (66)
        pass
    return FileFacts.of(path)


def _changed(facts: FileFacts) -> str:
    """'' if the file's size and modification time are as when it was claimed."""
    try:
        stat = os.stat(facts.path)
    except FileNotFoundError:
        return "disappeared"
    same = stat.st_size == facts.size and FileFacts.mtime_of(stat) == facts.mtime
    return "" if same else "changed"


def _same_content_loaded(store: RunStore, config: RunConfig, facts: FileFacts) -> str | None:
    """Pre-validation: the last completed load of the same content (by SHA-256, under any
    name) whose rows the final table still holds in full, when the file's record count
    equals what that run read; None otherwise."""
    query = (sa.select(mfp_run).where(mfp_run.c.file_sha256 == facts.sha256,
                                      mfp_run.c.status == COMPLETED)
             .order_by(mfp_run.c.started_at.desc()).limit(1))
    with store.engine.connect() as c:
        run = c.execute(query).first()
    if run is None or not run.records_read or run.records_read != count_records(config):
        return None
    subject = RunSubject.load(store, run.run_id)
    final = subject.scalar(sa.select(sa.func.count()).where(subject.in_final))
    return run.run_id if final == subject.scalar(
        sa.select(sa.func.count()).where(subject.promoted)) > 0 else None


def count_records(config: RunConfig) -> int:
    """The number of records in the file, by framing it (no decoding)."""
    with open_input(config.input_path) as buffer:
        return sum(c.n_records for c in iter_chunks(buffer, config.framing,
                                                     config.chunk_records, config.input_path))


def _earlier_loads(store: RunStore, facts: FileFacts, reprocess: bool) -> tuple[str, ...]:
    """The earlier runs of this file whose rows (in final and staging) this load replaces.

    A reprocess replaces every completed or failed run of the file. Any other load
    replaces the failed runs of the same content: a failed run's rows stay for inspection
    (promoted, when only its checks failed), and loading the file again must not add them
    a second time. A failed run of other content at the same path is another day's data;
    it stays."""
    r = mfp_run.c
    query = sa.select(r.run_id).where(r.file == facts.path)
    query = (query.where(r.status.in_((COMPLETED, FAILED))) if reprocess
             else query.where(r.status == FAILED, r.file_sha256 == facts.sha256))
    with store.engine.connect() as c:
        return tuple(c.execute(query).scalars())


def _not_loaded(config: RunConfig, claim: Claim) -> RunSummary:
    if claim.outcome == "held":
        return RunSummary(config.run_id, FAILED, EXIT_TEMPORARY,
                          f"{config.input_path} is being loaded by run {claim.run_id}; not "
                          "loaded twice", {}, {}, 0.0)
    return RunSummary(config.run_id, SKIPPED, EXIT_NOTHING_TO_DO,
                      f"{config.input_path} was loaded by run {claim.run_id} and is unchanged; "
                      "use `mfpipe reprocess` to load it again", {}, {}, 0.0)


def _fail(store: RunStore, summary: RunSummary, code: int, message: str) -> None:
    summary.status, summary.exit_code, summary.message = FAILED, code, message
    store.update(summary.run_id, status=FAILED, exit_code=code, message=message[:2000],
                 ended_at=utcnow())

