"""What operators ask of the runs: list, show, cancel, recover, stats.

Plain data in and out (dicts of JSON-ready values), so the CLI prints a table or ``--json``
from the same result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from mfpipe.db.control import mfp_chunk, mfp_purge, mfp_recon_result, mfp_reject, mfp_run
from mfpipe.db.registry import recover_if_dead
from mfpipe.db.runs import (ABANDONED, ACTIVE, COMPLETED, FAILED, STOPPED, STOPPING,
                            RunStore)
from mfpipe.errors import EXIT_NO_INPUT, EXIT_USAGE, RunError

SHOWN = 20  # rejects listed by `runs show`
_SUMMARY = ("run_id", "job", "file", "status", "exit_code", "started_at", "ended_at",
            "records_read", "records_loaded", "records_rejected", "elapsed_s", "message")


def list_runs(store: RunStore, status: str | None = None, job: str | None = None,
              since: dt.datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest runs first, filtered by status, job and start time."""
    query = sa.select(*(mfp_run.c[k] for k in _SUMMARY)).order_by(mfp_run.c.started_at.desc())
    if status:
        query = query.where(mfp_run.c.status == status.upper())
    if job:
        query = query.where(mfp_run.c.job == job)
    if since:
        query = query.where(mfp_run.c.started_at >= since)
    with store.engine.connect() as c:
        return [_plain(r) for r in c.execute(query.limit(limit)).mappings()]


def show_run(store: RunStore, run_id: str) -> dict[str, Any]:
    """One run with its attempts, chunks, first rejects, check results and purge (or
    None)."""
    run = store.run(run_id)
    if run is None:
        raise RunError(run_id, "no such run in this database", EXIT_NO_INPUT)
    with store.engine.connect() as c:
        chunks = [_plain(r) for r in c.execute(sa.select(mfp_chunk).where(
            mfp_chunk.c.run_id == run_id).order_by(mfp_chunk.c.chunk_id)).mappings()]
        rejects = [_plain(r) for r in c.execute(sa.select(mfp_reject).where(
            mfp_reject.c.run_id == run_id).order_by(mfp_reject.c.record_no).limit(SHOWN))
            .mappings()]
        checks = [_plain(r) for r in c.execute(sa.select(mfp_recon_result).where(
            mfp_recon_result.c.run_id == run_id).order_by(mfp_recon_result.c.position))
            .mappings()]
        purge = c.execute(sa.select(mfp_purge).where(mfp_purge.c.run_id == run_id)
                          ).mappings().first()
    run.pop("trailer_hex", None)
    return {"run": _plain(run), "attempts": [_plain(a) for a in store.attempts(run_id)],
            "chunks": chunks, "rejects": rejects, "checks": checks,
            "purged": _plain(purge) if purge else None}


def cancel_run(store: RunStore, run_id: str) -> str:
    """Ask the run's launcher to stop at the next chunk boundary (it polls its status)."""
    run = store.run(run_id)
    if run is None:
        raise RunError(run_id, "no such run in this database", EXIT_NO_INPUT)
    if run["status"] not in ACTIVE:
        raise RunError(run_id, f"is {run['status']}, not running: nothing to cancel",
                       EXIT_USAGE)
    if not store.update_if(run_id, ACTIVE, status=STOPPING):
        raise RunError(run_id, "ended meanwhile: nothing to cancel", EXIT_USAGE)
    return f"run {run_id}: asked to stop at the next chunk boundary (status STOPPING)"


def recover_runs(store: RunStore, ttl_s: float) -> list[str]:
    """Mark FAILED every active run whose launcher is gone; return their ids."""
    query = sa.select(mfp_run).where(mfp_run.c.status.in_(ACTIVE))
    with store.engine.begin() as c:
        return [r["run_id"] for r in c.execute(query).mappings().all()
                if recover_if_dead(c, r, ttl_s) == FAILED]


def run_stats(store: RunStore) -> list[dict[str, Any]]:
    """Per job: runs, success rate, mean duration and records per second of completed runs.

    An ABANDONED run was given up or superseded by another load of its file: it is counted
    apart, neither a success nor a failure; the success rate is completed runs among those
    that ended COMPLETED, FAILED or STOPPED."""
    r = mfp_run.c

    def counted(*statuses: str) -> sa.ColumnElement:
        return sa.func.sum(sa.case((r.status.in_(statuses), 1), else_=0))

    query = (sa.select(r.job, sa.func.count().label("runs"),
                       counted(COMPLETED).label("completed"),
                       counted(FAILED, STOPPED).label("failed"),
                       counted(ABANDONED).label("abandoned"),
                       sa.func.avg(sa.case((r.status == COMPLETED, r.elapsed_s))).label("mean_s"),
                       sa.func.sum(sa.case((r.status == COMPLETED, r.records_read))).label("read"),
                       sa.func.sum(sa.case((r.status == COMPLETED, r.elapsed_s))).label("secs"))
             .group_by(r.job).order_by(r.job))
    with store.engine.connect() as c:
        rows = c.execute(query).mappings().all()
    return [{"job": row["job"], "runs": int(row["runs"]),
             "completed": int(row["completed"] or 0), "failed": int(row["failed"] or 0),
             "abandoned": int(row["abandoned"] or 0),
             "success_rate": _rate(int(row["completed"] or 0), int(row["failed"] or 0)),
             "mean_elapsed_s": round(float(row["mean_s"] or 0), 3),
             "records_per_s": round(float(row["read"] or 0) / float(row["secs"]), 1)
             if row["secs"] else 0.0} for row in rows]


def _rate(completed: int, failed: int) -> float:
    return round(completed / (completed + failed), 4) if completed + failed else 0.0


def _plain(row: Any) -> dict[str, Any]:
    """A row as JSON-ready values (timestamps as ISO text)."""
    return {k: (v.isoformat(timespec="seconds") if isinstance(v, dt.datetime) else v)
            for k, v in dict(row).items()}
