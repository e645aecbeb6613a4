"""What operators ask of the runs: list, show, cancel, recover, stats, progress.

Plain data in and out (dicts of JSON-ready values), so the CLI prints a table or ``--json``
from the same result.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

from mfpipe.db.registry import recover_dead
from mfpipe.db.explorer import RunRecord
from mfpipe.db.runs import RunStore, utcnow
from mfpipe.pipeline.source import records_size
from mfpipe.db.status import ACTIVE, COMPLETED, FAILED, STARTED, STOPPED, STOPPING
from mfpipe.errors import EXIT_NO_INPUT, EXIT_USAGE, RunError

SHOWN = 20  # rejects, and planned chunks not loaded, listed by `runs show`
STATISTICS_RUNS = 100_000  # the newest runs of a period that statistics read
LISTED = ("run_id", "job", "file", "status", "exit_code", "started_at", "ended_at",
          "records_read", "records_loaded", "records_rejected", "elapsed_s", "message")


def list_runs(store: RunStore, status: str | None = None, job: str | None = None,
              since: dt.datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest runs first, filtered by status, job and start time."""
    runs = store.runs(status=status.upper() if status else None, job=job, since=since,
                      limit=limit)
    return [_plain({k: getattr(r, k) for k in LISTED}) for r in runs]


def existing_run(store: RunStore, run_id: str) -> RunRecord:
    """The run, or the error (66) an operator's action on a run that is not there gets."""
    run = store.run(run_id)
    if run is None:
        raise RunError(run_id, "no such run in this database", EXIT_NO_INPUT)
    return run


def show_run(store: RunStore, run_id: str) -> dict[str, Any]:
    """One run with its attempts, chunks (committed, and planned but not committed: what a
    restart loads), first rejects, check results and purge (or None)."""
    run = existing_run(store, run_id)
    purge = store.purge(run_id)
    shown = {k: v for k, v in asdict(run).items() if k != "trailer_hex"}
    ledger = store.ledger(run_id)
    committed = {c.chunk_id for c in ledger}
    planned = store.plan(run_id)
    missing = sorted(set(planned) - committed)
    return {"run": _plain(shown), "attempts": [_plain(asdict(a)) for a in store.attempts(run_id)],
            "chunks": [_plain(asdict(c)) for c in ledger], "planned": len(planned),
            "not_loaded": len(missing),
            "to_load": [{"chunk_id": k, "plan": planned[k].describe()} for k in missing[:SHOWN]],
            "rejects": [_plain(r) for r in store.rejects(run_id, SHOWN)],
            "checks": [_plain(_stored(c)) for c in store.checks(run_id)],
            "purged": _plain(purge) if purge else None}


def cancel_run(store: RunStore, run_id: str) -> str:
    """Ask the run's launcher to stop at the next chunk boundary (it polls its status)."""
    run = existing_run(store, run_id)
    if run.status not in ACTIVE:
        raise RunError(run_id, f"is {run.status}, not running: nothing to cancel",
                       EXIT_USAGE)
    if not store.update_if(run_id, ACTIVE, status=STOPPING):
        raise RunError(run_id, "ended meanwhile: nothing to cancel", EXIT_USAGE)
    return f"run {run_id}: asked to stop at the next chunk boundary (status STOPPING)"


def run_progress(store: RunStore, run_ids: list[str]) -> list[dict[str, Any]]:
    """Each run's progress as its ledger commits: records, the share of the file's bytes in
    committed chunks (of a compressed file's decompressed bytes, once known), the rate of
    the current attempt (its own chunks over its own time) and the time left at that rate,
    and the phase (starting, loading, publishing once every byte is committed, stopping, or
    how it ended)."""
    found = store.progress(run_ids)
    now, shown = utcnow(), []
    for run_id in run_ids:
        run = store.run(run_id)
        if run is None:
            continue
        done = found[run_id]
        size = records_size(run.file)
        fraction = min(1.0, done["bytes"] / size) if size else None
        phase = run.status.lower()
        if run.status == STARTED:
            phase = "publishing" if fraction == 1.0 else "loading"
        rate = eta = None
        attempts = store.attempts(run_id) if run.status in ACTIVE else []
        if attempts:
            since = attempts[-1].started_at
            records, size_done = store.committed_since(run_id, since)
            seconds = (now - since).total_seconds()
            if records and seconds > 0:
                rate = round(records / seconds, 1)
                eta = round(seconds / size_done * (size - done["bytes"]), 1) \
                    if size and size_done else None
        shown.append({"run_id": run_id, "file": run.file, "status": run.status,
                      "phase": phase, "chunks": done["chunks"], "records_read": done["read"],
                      "records_loaded": done["loaded"], "records_rejected": done["rejected"],
                      "bytes_done": done["bytes"], "file_bytes": size,
                      "fraction": None if fraction is None else round(fraction, 4),
                      "records_per_s": rate, "eta_s": eta})
    return shown


def statistics(store: RunStore, since: dt.datetime | None, until: dt.datetime | None
               ) -> dict[str, Any]:
    """The runs started in a period: per day, success rate, mean duration, throughput,
    reject rate, and the checks that failed most."""
    runs = store.runs(since=since, before=until, limit=STATISTICS_RUNS)
    days: dict[dt.date, dict[str, Any]] = {}
    for run in runs:
        day = days.setdefault(run.started_at.date(), {
            "day": run.started_at.date(), "runs": 0, "completed": 0, "failed": 0,
            "records_read": 0, "records_rejected": 0})
        day["runs"] += 1
        day["completed"] += run.status == COMPLETED
        day["failed"] += run.status in (FAILED, STOPPED)
        day["records_read"] += run.records_read or 0
        day["records_rejected"] += run.records_rejected or 0
    completed = [r for r in runs if r.status == COMPLETED]
    failed = sum(r.status in (FAILED, STOPPED) for r in runs)
    seconds = sum(r.elapsed_s or 0 for r in completed)
    read = sum(r.records_read or 0 for r in runs)
    return {"since": since, "until": until, "runs": len(runs),
            "success_rate": _rate(len(completed), failed),
            "mean_elapsed_s": round(seconds / len(completed), 3) if completed else 0.0,
            "records_per_s": round(sum(r.records_read or 0 for r in completed) / seconds, 1)
            if seconds else 0.0,
            "reject_rate": round(sum(r.records_rejected or 0 for r in runs) / read, 6)
            if read else 0.0,
            "days": [days[d] for d in sorted(days)],
            "failing_checks": [{"check": name, "failures": n}
                               for name, n in store.failing_checks(since, until)]}


def recover_runs(store: RunStore, ttl_s: float) -> list[str]:
    """Mark FAILED every active run whose launcher is gone; return their ids."""
    return recover_dead(store, ttl_s)


def run_stats(store: RunStore) -> list[dict[str, Any]]:
    """Per job: runs, success rate, mean duration and records per second of completed runs.

    An ABANDONED run was given up or superseded by another load of its file: it is counted
    apart, neither a success nor a failure; the success rate is completed runs among those
    that ended COMPLETED, FAILED or STOPPED."""
    rows = store.job_stats()
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


def _stored(check: dict[str, Any]) -> dict[str, Any]:
    """A stored check result as ``runs show --json`` has always printed it: its details
    as the stored JSON text."""
    return {**check, "details": json.dumps(check["details"])}
