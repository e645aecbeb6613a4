"""Claims: which run may load a file's content now, decided in one serialized transaction.

Every operator command that loads a file claims its load identity first
(:mod:`mfpipe.db.identity`), and the claim says what happens:

- ``run``: a live run of the identity holds it (exit 75); a COMPLETED one means nothing to
  do (99); the newest FAILED or STOPPED one is resumed from its ledger (the same run, one
  more attempt) when it committed chunks and its options still hold, and refused (64) when
  the launch asks for other options; otherwise a new run starts.
- ``reprocess``: a new run replaces the identity's runs (COMPLETED ones when it publishes,
  FAILED and STOPPED ones at once: ABANDONED, never restarted) and the runs the operator
  names (``--replace``: a corrected re-send of other content). Without either, a path whose
  earlier runs loaded other content is ambiguous: refused, with those runs listed.
- ``restart``: the named FAILED or STOPPED run, unless another run of its identity is live
  or published (and not replaced by it).

The transaction is serialized per path and per identity, so two launchers of one content
under two names, or of one path, decide one after the other; a new or resumed run is
visible to the next claimer before the transaction ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import sqlalchemy as sa

from mfpipe.db.control import mfp_chunk, mfp_file, mfp_run
from mfpipe.db.identity import LoadIdentity
from mfpipe.db.registry import (HOST, PROCESSING, SKIPPED, SUCCESS, FileFacts, file_row,
                                recover_if_dead, serialized)
from mfpipe.db.explorer import RunRecord, read_run
from mfpipe.db.runs import RunStore, abandon, begin_attempt, insert_run, utcnow
from mfpipe.db.status import ABANDONED, ACTIVE, COMPLETED, RESTARTABLE, STARTING
from mfpipe.errors import EXIT_NO_INPUT, EXIT_NOTHING_TO_DO, EXIT_TEMPORARY, EXIT_USAGE, RunError

Mode = Literal["run", "reprocess", "restart"]
Outcome = Literal["new", "resume", "skip", "held", "refused"]


def _no_changes(_stored: Mapping[str, Any]) -> str:
    return ""


@dataclass(frozen=True)
class ClaimRequest:
    """What a launcher asks for.

    ``run_id``: the new run's id (run, reprocess) or the run to restart; ``named``: runs a
    reprocess replaces by name; ``allowed``: the runs a restarted run replaces (their
    published rows do not block it); ``changes``: why a resumable run's stored options
    (a parsed ``mfp_run.options``) cannot be taken over by this launch ('' if they can)."""

    mode: Mode
    run_id: str
    named: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    changes: Callable[[Mapping[str, Any]], str] = _no_changes


@dataclass(frozen=True)
class Claim:
    """The decision: ``new`` or ``resume`` (``run_id`` now belongs to this launcher's
    ``attempt``), ``skip`` (``run_id`` published the content), ``held`` (``run_id`` is
    loading it), or ``refused`` (``message`` says why, ``exit_code`` what to return)."""

    outcome: Outcome
    run_id: str
    attempt: int = 0
    replaces: tuple[str, ...] = ()
    message: str = ""
    exit_code: int = 0


def claim(store: RunStore, facts: FileFacts, identity: LoadIdentity, request: ClaimRequest,
          ttl_s: float) -> Claim:
    """Decide and record what ``request`` may do (see the module docstring)."""
    with serialized(store.engine, facts.path, identity.lock_name) as c:
        held = _path_held(c, facts.path, request.run_id, ttl_s)
        if held is not None:
            return held
        runs = _runs_of(c, identity, ttl_s)
        live = next((r for r in runs if r.status in ACTIVE), None)
        if live is not None:
            return _held(live.run_id, "its content")
        decide = {"run": _for_run, "reprocess": _for_reprocess, "restart": _for_restart}
        decision = decide[request.mode](c, facts, identity, runs, request, ttl_s)
        if decision.outcome == "new":
            insert_run(c, decision.run_id, job=identity.job, file=facts.path,
                       file_sha256=identity.sha256, record_name=identity.record_name,
                       final_table=identity.final_table, host=HOST, pid=os.getpid())
        elif decision.outcome == "resume":
            decision = _take(c, decision, facts.path)
        if decision.outcome in ("new", "resume"):
            begin_attempt(c, decision.run_id, decision.attempt, request.mode, host=HOST,
                          pid=os.getpid())
            _hold_file(c, facts, decision.run_id)
        elif decision.outcome == "skip":
            _skipped_file(c, facts, decision.run_id)
        return decision


def _for_run(c: sa.Connection, facts: FileFacts, identity: LoadIdentity,
             runs: Sequence[RunRecord], request: ClaimRequest, ttl_s: float) -> Claim:
    published = next((r for r in runs if r.status == COMPLETED), None)
    if published is not None:
        return Claim("skip", published.run_id, message=(
            f"{facts.path}: its content was loaded by run {published.run_id} (job "
            f"{identity.job}, table {identity.final_table}); `mfpipe reprocess` loads it "
            "again, replacing that run"), exit_code=EXIT_NOTHING_TO_DO)
    resumable = [r for r in runs if r.status in RESTARTABLE]
    if resumable:
        newest, older = resumable[0], [r.run_id for r in resumable[1:]]
        abandon(c, older, newest.run_id)
        if not _has_chunks(c, newest.run_id):  # nothing loaded: nothing to resume
            abandon(c, [newest.run_id], request.run_id)
            return Claim("new", request.run_id, 1)
        why = request.changes(newest.options)
        if why:
            return Claim("refused", newest.run_id, message=(
                f"run {newest.run_id} of the same content is {newest.status} and would "
                f"be resumed, but this launch changes {why}: `mfpipe restart "
                f"{newest.run_id}` finishes it as it began, `mfpipe reprocess "
                f"{facts.path}` loads the file afresh with the new options, `mfpipe runs "
                f"abandon {newest.run_id}` gives it up"), exit_code=EXIT_USAGE)
        return Claim("resume", newest.run_id)
    return Claim("new", request.run_id, 1)


def _for_reprocess(c: sa.Connection, facts: FileFacts, identity: LoadIdentity,
                   runs: Sequence[RunRecord], request: ClaimRequest, ttl_s: float
                   ) -> Claim:
    named: list[RunRecord] = []
    for run_id in request.named:
        run = _replaceable(c, run_id, identity, ttl_s)
        if isinstance(run, Claim):
            return run
        named.append(run)
    if not runs and not named:
        others = _other_content(c, facts.path, identity)
        if others:
            listed = "; ".join(f"{r.run_id} ({r.started_at:%Y-%m-%d %H:%M}, "
                               f"{r.records_read} records)" for r in others[:10])
            return Claim("refused", "", message=(
                f"{facts.path}: this content was never loaded by job {identity.job} into "
                f"{identity.final_table}, and the earlier runs of this path loaded other "
                f"content: {listed}. Name the run a corrected re-send replaces with "
                "`--replace RUN_ID`, or load it as new data with `mfpipe run`"),
                exit_code=EXIT_USAGE)
    chosen = list({r.run_id: r for r in [*runs, *named]}.values())
    abandon(c, [r.run_id for r in chosen if r.status in RESTARTABLE], request.run_id)
    replaced = tuple(r.run_id for r in chosen if r.status == COMPLETED)
    return Claim("new", request.run_id, 1, replaced)


def _for_restart(c: sa.Connection, facts: FileFacts, identity: LoadIdentity,
                 runs: Sequence[RunRecord], request: ClaimRequest, ttl_s: float
                 ) -> Claim:
    run = next((r for r in runs if r.run_id == request.run_id), None)
    if run is None:  # ABANDONED runs are not among the identity's runs
        return Claim("refused", request.run_id, message=_not_restartable(c, request.run_id),
                     exit_code=EXIT_USAGE)
    if run.status == COMPLETED:
        return Claim("skip", run.run_id, message="completed; nothing to restart (`mfpipe "
                     "reprocess` loads the file again)", exit_code=EXIT_NOTHING_TO_DO)
    published = [r.run_id for r in runs if r.status == COMPLETED
                 and r.run_id not in request.allowed]
    if published:
        return Claim("refused", run.run_id, message=(
            f"run {published[0]} has published the same content since; this run is "
            f"superseded: `mfpipe runs abandon {run.run_id}`"), exit_code=EXIT_USAGE)
    return Claim("resume", run.run_id)


def _runs_of(c: sa.Connection, identity: LoadIdentity, ttl_s: float
             ) -> list[RunRecord]:
    """The identity's runs that are not ABANDONED, newest first; a run whose launcher is
    gone is recovered to FAILED on the way."""
    query = (sa.select(mfp_run).where(identity.runs(), mfp_run.c.status != ABANDONED)
             .order_by(mfp_run.c.started_at.desc(), mfp_run.c.run_id.desc()))
    return [replace(run, status=recover_if_dead(c, run, ttl_s))
            for run in map(RunRecord.of, c.execute(query).mappings())]


def _path_held(c: sa.Connection, path: str, run_id: str, ttl_s: float) -> Claim | None:
    """A live run of other content (a file that changed while loading) or of another
    identity holds the path; a dead holder is recovered."""
    row = file_row(c, path)
    if row is None or row.status != PROCESSING or row.owner_run_id in (None, run_id):
        return None
    owner = read_run(c, row.owner_run_id)
    if owner is not None and recover_if_dead(c, owner, ttl_s) in ACTIVE:
        return _held(row.owner_run_id, path)
    return None


def _held(run_id: str, what: str) -> Claim:
    return Claim("held", run_id, message=f"{what} is being loaded by run {run_id}; not loaded "
                 "twice (try again when it ends)", exit_code=EXIT_TEMPORARY)


def _replaceable(c: sa.Connection, run_id: str, identity: LoadIdentity, ttl_s: float
                 ) -> RunRecord | Claim:
    """A run a reprocess may replace by name, or the refusal saying why not."""
    run = read_run(c, run_id)

    def refused(why: str, code: int = EXIT_USAGE) -> Claim:
        return Claim("refused", run_id, message=f"--replace {run_id}: {why}", exit_code=code)

    if run is None:
        return refused("no such run in this database")
    if run.final_table != identity.final_table:
        return refused(f"that run loaded {run.final_table}, this job loads "
                       f"{identity.final_table}")
    if run.status == ABANDONED:
        return refused(f"already ABANDONED ({run.message})")
    status = recover_if_dead(c, run, ttl_s)
    if status in ACTIVE:
        return refused("that run is running", EXIT_TEMPORARY)
    return replace(run, status=status)


def _other_content(c: sa.Connection, path: str, identity: LoadIdentity
                   ) -> list[RunRecord]:
    """Published runs of the same path, job, table and record with other content."""
    r = mfp_run.c
    return list(map(RunRecord.of, c.execute(sa.select(mfp_run).where(
        r.file == path, r.job == identity.job, r.final_table == identity.final_table,
        r.record_name == identity.record_name, r.file_sha256 != identity.sha256,
        r.status == COMPLETED).order_by(r.started_at.desc())).mappings()))


def _not_restartable(c: sa.Connection, run_id: str) -> str:
    run = read_run(c, run_id)
    if run is None or run.status != ABANDONED:
        return "is not a run of this file's content"
    by = f" by run {run.superseded_by}" if run.superseded_by else ""
    return f"is ABANDONED (superseded{by}); an abandoned run never restarts"


def _has_chunks(c: sa.Connection, run_id: str) -> bool:
    return c.execute(sa.select(mfp_chunk.c.chunk_id).where(mfp_chunk.c.run_id == run_id)
                     .limit(1)).first() is not None


def _take(c: sa.Connection, decision: Claim, path: str) -> Claim:
    """The resumed run's next attempt, in this launcher (the run reads the file at ``path``,
    which holds the same content), taken only from the FAILED or STOPPED run and the
    attempt this claim saw: a run some other command ended or took meanwhile is refused."""
    r = mfp_run.c
    seen = int(c.execute(sa.select(r.attempt).where(r.run_id == decision.run_id)
                         ).scalar_one())
    taken = c.execute(mfp_run.update().where(
        r.run_id == decision.run_id, r.attempt == seen, r.status.in_(RESTARTABLE)).values(
        status=STARTING, attempt=seen + 1, host=HOST, pid=os.getpid(), file=path,
        heartbeat_at=utcnow(), ended_at=None, exit_code=None, message=""))
    if taken.rowcount != 1:
        return Claim("refused", decision.run_id, message=f"run {decision.run_id} changed "
                     "while it was being claimed; try again", exit_code=EXIT_TEMPORARY)
    return Claim("resume", decision.run_id, seen + 1)


def _hold_file(c: sa.Connection, facts: FileFacts, run_id: str) -> None:
    _write_file(c, facts, PROCESSING, owner_run_id=run_id)


def _skipped_file(c: sa.Connection, facts: FileFacts, loaded_by: str) -> None:
    """A skipped launch leaves a path that holds the loaded content SUCCESS; another path
    with that content is SKIPPED, naming the run that loaded it."""
    row = file_row(c, facts.path)
    if row is not None and row.status == SUCCESS and row.sha256 == facts.sha256:
        return
    _write_file(c, facts, SKIPPED, last_run_id=loaded_by)


def _write_file(c: sa.Connection, facts: FileFacts, status: str, **values: Any) -> None:
    row = {"path": facts.path, "size": facts.size, "mtime": facts.mtime,
           "sha256": facts.sha256, "status": status, "updated_at": utcnow(), **values}
    if file_row(c, facts.path) is None:
        c.execute(mfp_file.insert().values(row))
    else:
        c.execute(mfp_file.update().where(mfp_file.c.path == facts.path).values(row))


def abandon_run(store: RunStore, run_id: str, ttl_s: float) -> None:
    """Give up a FAILED or STOPPED run (an operator's ``runs abandon``): it never restarts,
    and the next launch of its content starts afresh. A live run is refused (75: cancel it
    first); a published one too (64: ``reprocess`` replaces a published run)."""
    run = store.run(run_id)
    if run is None:
        raise RunError(run_id, "no such run in this database", EXIT_NO_INPUT)
    with serialized(store.engine, run.file, LoadIdentity.of_run(run).lock_name) as c:
        run = read_run(c, run_id) or run  # as it is now, inside the lock
        status = recover_if_dead(c, run, ttl_s)
        if status in ACTIVE:
            raise RunError(run_id, "is running: `mfpipe runs cancel` stops it first",
                           EXIT_TEMPORARY)
        if status == COMPLETED:
            raise RunError(run_id, "is COMPLETED and its rows are published: `mfpipe "
                                   "reprocess` replaces a published run", EXIT_USAGE)
        if status not in RESTARTABLE:
            raise RunError(run_id, f"is {status} already ({run.message})", EXIT_USAGE)
        abandon(c, [run_id], None)
