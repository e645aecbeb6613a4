"""Loading one file as an operator asks for it: claim it, load it, publish it with its proof.

The claim (:mod:`mfpipe.db.claims`) decides by the load's identity (job, final table, record,
content): a live run of the content holds it (exit 75), a published one means nothing to do
(99), a FAILED or STOPPED one is resumed from its ledger, a reprocess replaces the earlier
runs of the content; otherwise a new run starts. A loaded run is checked against the file
again (a file that changed or vanished while it was read fails with exit 66) and published
atomically (:mod:`mfpipe.recon.publish`): a run whose checks fail ends FAILED with exit 65,
publishes nothing, and keeps its staging rows for inspection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import sqlalchemy as sa
import structlog

from mfpipe import storage
from mfpipe.codec import DecodePlan
from mfpipe.db.claims import Claim, ClaimRequest, claim
from mfpipe.db.faults import connection_lost, retried, unavailable
from mfpipe.db.identifiers import check_identifier
from mfpipe.db.identity import LoadIdentity
from mfpipe.db.registry import SUCCESS, FileFacts, release
from mfpipe.db.runs import RunStore, utcnow
from mfpipe.db.status import COMPLETED, FAILED, LOADED, STOPPED
from mfpipe.db.rules import check_rules
from mfpipe.errors import (EXIT_DATA, EXIT_INTERNAL, EXIT_NO_INPUT, EXIT_NOTHING_TO_DO,
                           EXIT_STOPPED, ConfigError, MfpipeError, first_line)
from mfpipe.framing import iter_chunks
from mfpipe.pipeline.spec import (JobSpec, changed_options, spec_from_options, resumed)
from mfpipe.pipeline.engine import Engine, RunSummary, resolve_columns
from mfpipe.pipeline.process import check_framing, records_per_chunk
from mfpipe.pipeline.progress import Progress
from mfpipe.pipeline.tasks import Committed
from mfpipe.pipeline.source import open_input, release_spool
from mfpipe.recon.publish import publish
from mfpipe.recon.service import ReconciliationService

SKIPPED, REFUSED = "SKIPPED", "REFUSED"  # launch outcomes of a file that no run loaded
log = structlog.get_logger()


def load_file(config: JobSpec, progress: Progress | None = None, reprocess: bool = False,
              ttl_s: float = 60.0, replace_runs: Sequence[str] = ()) -> RunSummary:
    """Claim, load and publish one file (see the module docstring); ``replace_runs``: the
    runs of other content a reprocess replaces (``--replace``)."""
    storage.check_readable(config.source.input_path)  # a missing or unreadable input: 66,
    config.check_outputs()  # first; then the outputs, before an object is fetched whole
    facts = file_facts(config.source.input_path)
    config, identity = _identified(config, facts)
    if config.source.empty_file != "load" and _empty(config):
        skip = config.source.empty_file == "skip"
        release_spool(config.source.input_path)
        return RunSummary(None, SKIPPED if skip else FAILED,
                          EXIT_NOTHING_TO_DO if skip else EXIT_DATA,
                          f"{facts.path} holds no records "
                          f"(--empty-file {config.source.empty_file})",
                          {}, {}, 0.0)
    request = ClaimRequest("reprocess" if reprocess else "run", config.run_id,
                           named=tuple(replace_runs),
                           changes=lambda stored: ", ".join(changed_options(stored, config)))
    store = RunStore(config.execution.db_url)
    try:
        store.check_available(config.execution.retry_s)
        store.prepare_control()
        decision = claim(store, facts, identity, request, ttl_s)
        if decision.outcome == "resume":
            stored = store.run(decision.run_id)
            assert stored is not None  # the claim just took it
            config = resumed(spec_from_options(stored.options, config.execution.db_url), config)
    finally:
        store.close()
    if decision.outcome == "new":
        return run_attempt(config.changed(replaces=decision.replaces), decision.attempt,
                           facts, progress, resuming=False)
    if decision.outcome == "resume":
        log.info("resuming run", run_id=decision.run_id, attempt=decision.attempt)
        return run_attempt(config, decision.attempt, facts, progress, resuming=True)
    if decision.outcome == "skip":  # loaded already: its local copy or spool is not needed
        release_spool(config.source.input_path)
    return not_loaded(decision)


def run_attempt(config: JobSpec, attempt: int, facts: FileFacts,
                progress: Progress | None, resuming: bool) -> RunSummary:
    """One attempt of a claimed run: load what its ledger lacks, then publish.

    A resumed run first ends the database sessions its earlier launcher left (a commit the
    server was still finishing must not slip in beside this attempt's load of that chunk),
    then reads its ledger. Every write of the attempt is fenced by its number. An error
    ends the run FAILED with its exit code, never leaves it STARTED, and frees the file."""
    store = RunStore(config.execution.db_url, config.run_id)
    store.lease(config.run_id, attempt)
    began, cpu = time.perf_counter(), time.process_time()
    done: dict[int, Committed] = {}
    summary = RunSummary(config.run_id, FAILED, EXIT_INTERNAL, "", {}, {}, 0.0)
    try:
        if resuming:
            store.end_sessions(config.run_id)
            done = {c.chunk_id: Committed.of(c) for c in store.ledger(config.run_id)}
        summary = Engine(config, progress).run(store, done if resuming else None)
        finish(store, config, summary, facts)
    except BaseException as exc:  # the run says why; an error the operator can act on is
        if connection_lost(exc):  # the database went away for longer than the retries: 75
            exc = unavailable(config.execution.db_url, exc)
        _end_in_error(store, config.run_id, exc,  # this attempt's outcome,
                      config.execution.retry_s)
        summary.status, summary.message = FAILED, f"{type(exc).__name__}: {first_line(exc)}"
        summary.exit_code = exc.exit_code if isinstance(exc, MfpipeError) else EXIT_INTERNAL
        if not isinstance(exc, MfpipeError):  # any other raised on, to the CLI's last line
            raise
        summary.message = str(exc)
    finally:
        summary.attempt, summary.elapsed_s = attempt, round(time.perf_counter() - began, 3)
        summary.cpu_s = round(summary.cpu_s + time.process_time() - cpu, 3)
        _end_attempt(store, summary, done)
        _release(store, facts, summary)
        store.close()
        if summary.status == COMPLETED:  # a restart of a failed run still finds the spool,
            release_spool(config.source.input_path)  # and the kept bytes of its rejects
            config.outputs.remove_parts()
    return summary


def _release(store: RunStore, facts: FileFacts, summary: RunSummary) -> None:
    """End the attempt's hold on the file: SUCCESS naming the run, or FAILED. An attempt
    that another took over leaves the file to it; a database gone by now leaves the hold
    for the next claim to see its owner dead."""
    loaded = summary.status == COMPLETED
    try:
        if store.holds_lease():
            release(store, facts.path, str(summary.run_id), SUCCESS if loaded else FAILED,
                    summary.run_id if loaded else None)
    except sa.exc.SQLAlchemyError:
        log.warning("could not release the file", path=facts.path, run_id=summary.run_id)


def finish(store: RunStore, config: JobSpec, summary: RunSummary, facts: FileFacts) -> None:
    """After the engine: check that the file did not change, then publish the run with its
    proof (COMPLETED) or end it FAILED, in ``mfp_run`` and in ``summary``.

    Until then the run stays STARTED with a fresh heartbeat: a launcher killed in the
    meantime leaves a run that ``runs recover`` (or the next launch) marks FAILED and
    ``restart`` finishes, never one that says COMPLETED without its proof."""
    if summary.status != LOADED:  # the engine ended it already
        return
    changed = facts.changed()
    if changed:
        _fail(store, summary, EXIT_NO_INPUT, f"{facts.path} {changed} while it was read; "
                                             "nothing was published: run it again once the "
                                             "file is complete")
        return
    began = time.perf_counter()
    try:  # atomic, so a publication the database dropped is tried again from the start
        with store.beating(config.run_id, config.execution.heartbeat_s):
            report, cpu_elsewhere = retried(lambda: publish(store, config.run_id),
                                            config.execution.retry_s)
        summary.cpu_s += cpu_elsewhere
    except Exception as exc:  # the rows are safe in staging: a restart publishes them
        if _published_meanwhile(store, config):  # the commit landed, its answer was lost
            report, cpu_elsewhere = ReconciliationService(store).report(config.run_id), 0.0
        else:
            _unpublished(store, summary, config, exc)
            return
    summary.phases["publish_s"] = round(time.perf_counter() - began, 3)
    summary.reconciliation = report.summary()
    if not report.passed:
        summary.counts["final"] = 0
        _fail(store, summary, EXIT_DATA, "reconciliation failed: " + ", ".join(report.failed)
              + "; nothing was published (the final table is unchanged) and the run keeps "
              "its staging rows for inspection")
        return
    summary.counts["final"] = report.counts.final
    if report.counts.nulled:
        summary.counts["nulled"] = report.counts.nulled
    summary.status = COMPLETED


def _published_meanwhile(store: RunStore, config: JobSpec) -> bool:
    """Did the publication commit although its caller saw an error (the database's answer
    to the COMMIT was lost, and the retry found the run completed)?"""
    try:  # completed by this attempt (its lease), not by one that took the run over
        status = retried(lambda: store.status(config.run_id), config.execution.retry_s)
        return bool(status == COMPLETED and store.holds_lease())
    except Exception:
        return False


def _unpublished(store: RunStore, summary: RunSummary, config: JobSpec,
                 exc: Exception) -> None:
    """End a run whose publication did not happen: STOPPED (143) when it was stopped, else
    FAILED with the error's exit code (75 for a database away); its rows stay in staging."""
    if isinstance(exc, MfpipeError) and exc.exit_code == EXIT_STOPPED:
        _fail(store, summary, EXIT_STOPPED, str(exc), STOPPED)
        return
    if connection_lost(exc):
        exc = unavailable(config.execution.db_url, exc)
    log.exception("publication failed", run_id=config.run_id)
    _fail(store, summary, exc.exit_code if isinstance(exc, MfpipeError) else EXIT_INTERNAL,
          f"publication failed ({type(exc).__name__}: {first_line(exc)}); nothing was "
          f"published and every record is in staging: `mfpipe restart {config.run_id}` "
          "publishes again")


def not_loaded(decision: Claim) -> RunSummary:
    """The summary of a launch that loaded nothing: skipped (99), held (75) or refused."""
    status = SKIPPED if decision.outcome == "skip" else REFUSED
    return RunSummary(decision.run_id or None, status, decision.exit_code, decision.message,
                      {}, {}, 0.0)


def _identified(config: JobSpec, facts: FileFacts) -> tuple[JobSpec, LoadIdentity]:
    """The config with its path, content, job, table, record and proof columns resolved
    (so that a resumed run's stored options compare alike), and the load's identity."""
    config = config.with_layout()  # the copybook's text is kept with the run from now on
    record = config.source.record()
    check_framing(record, config.source.framing)
    config.source.condition(record)  # a bad --when is 78 now, not in the processors
    table = config.source.table(record)
    final = check_identifier(config.target.final_table or table, "final table")
    if config.target.staging_table:
        check_identifier(config.target.staging_table, "staging table")
    job = config.job or table
    staging = config.target.staging_table or f"stg_{table}"
    if staging.lower() == final.lower():
        raise ConfigError(f"the final table {final} cannot also be the staging table: name "
                          "another with --final-table or --staging-table")
    per_chunk = records_per_chunk(config.execution.chunk_records,
                                  max(record.size, config.source.framing.lrecl or 0))
    config = config.changed(input_path=facts.path, file_sha256=facts.sha256, job=job,
                     final_table=final, record_name=record.name, chunk_records=per_chunk)
    schema = DecodePlan.compile(record, config.source.decode).schema
    check_rules(config.proof.rules, schema)  # before the first byte is read, not after the load
    config = resolve_columns(config, schema)
    return config, LoadIdentity(job, final, record.name, facts.sha256)


def file_facts(path: str) -> FileFacts:
    """The facts of an input file; a missing or unreadable one is the clear InputError (66)."""
    with open_input(path):  # missing, a directory, unreadable: the clear InputError (66)
        pass
    return FileFacts.of(path)


def _empty(config: JobSpec) -> bool:
    """Does the file hold no record (header and trailer aside)? Framing stops at the first."""
    source = config.source
    with open_input(source.input_path) as buffer:
        return next(iter_chunks(buffer, source.framing, 1, source.input_path), None) is None


def _end_attempt(store: RunStore, summary: RunSummary, done: dict[int, Committed]) -> None:
    """Record the attempt's outcome: what it added to the ledger (the chunks earlier attempts
    committed are theirs), its phases, wall time and CPU; a database gone by now only
    leaves the attempt for recovery to end."""
    counts = summary.counts
    added = {"chunks": counts.get("chunks_committed", len(done)) - len(done)}
    for name, count in (("read", "records"), ("loaded", "loaded"), ("rejected", "rejected")):
        before = sum(getattr(c, count) for c in done.values())
        added[f"records_{name}"] = counts.get(name, before) - before
    try:
        store.end_attempt(str(summary.run_id), summary.attempt, status=summary.status,
                          exit_code=summary.exit_code, message=summary.message[:2000],
                          elapsed_s=summary.elapsed_s, cpu_s=summary.cpu_s,
                          load_s=summary.phases.get("load_s"),
                          publish_s=summary.phases.get("publish_s"),
                          metrics=json.dumps(counts.get("per_worker", {})), **added)
    except sa.exc.SQLAlchemyError:
        log.warning("could not record the attempt's end", run_id=summary.run_id,
                    attempt=summary.attempt)


def _end_in_error(store: RunStore, run_id: str, exc: BaseException, retry_s: float) -> None:
    """End a run that an error stopped outside the engine's own handling FAILED, with the
    error's exit code (if this attempt still owns it and it is still active), waiting for a
    database that is coming back (a restart) as long as the writers would."""
    code = exc.exit_code if isinstance(exc, MfpipeError) else EXIT_INTERNAL
    try:
        retried(lambda: store.update_active(
            run_id, status=FAILED, exit_code=code, ended_at=utcnow(),
            message=f"{type(exc).__name__}: {first_line(exc)}"[:2000]), retry_s)
    except Exception:  # the database is gone too: recovery ends the run later
        log.warning("could not record the run's failure", run_id=run_id)


def _fail(store: RunStore, summary: RunSummary, code: int, message: str,
          status: str = FAILED) -> None:
    """End an active run with ``status`` (never one that completed meanwhile: a publication
    whose commit the database acknowledged too late is COMPLETED, not failed)."""
    summary.status, summary.exit_code, summary.message = status, code, message
    store.update_active(str(summary.run_id), status=status, exit_code=code,
                        message=message[:2000], ended_at=utcnow())

