"""``mfpipe runs``: the batch-operations view of the runs in a database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import click

from mfpipe.cli.group import cli
from mfpipe.db.claims import abandon_run
from mfpipe.db.retention import purge_staging
from mfpipe.db.runs import RunStore
from mfpipe.db.urls import DEFAULT_URL, resolve
from mfpipe.jobs.operations import cancel_run, list_runs, recover_runs, run_stats, show_run
from mfpipe.pipeline.source import release_spool

_DB = click.option("--db", "db_url",
                   help=f"Database URL (default: $MFPIPE_DB, then {DEFAULT_URL}).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@cli.group()
def runs() -> None:
    """List, show, cancel, abandon, recover runs; statistics per job; purge old staging
    rows."""


@runs.command("list")
@click.option("--status", help="Only runs in this status (COMPLETED, FAILED, ...).")
@click.option("--job", help="Only runs of this job.")
@click.option("--since", type=click.DateTime(), help="Only runs started at or after (UTC).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many runs.")
@_DB
@_JSON
def list_command(status: str | None, job: str | None, since: dt.datetime | None, limit: int,
                 db_url: str | None, as_json: bool) -> None:
    """The newest runs first: status, start (UTC), duration, counts, file."""
    rows = _with_store(db_url, lambda store: list_runs(store, status, job, since, limit))
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'RUN ID':<23}  {'STATUS':<9}  {'JOB':<18}  {'STARTED (UTC)':<19}  "
               f"{'ELAPSED':>8}  {'READ':>10}  {'LOADED':>10}  {'REJECTED':>8}  FILE")
    for r in rows:
        elapsed = "-" if r["elapsed_s"] is None else f"{r['elapsed_s']:.1f}s"
        click.echo(f"{r['run_id']:<23}  {r['status']:<9}  {_safe(r['job'])[:18]:<18}  "
                   f"{(r['started_at'] or '-').replace('T', ' '):<19}  {elapsed:>8}  "
                   f"{_n(r['records_read']):>10}  {_n(r['records_loaded']):>10}  "
                   f"{_n(r['records_rejected']):>8}  {_safe(r['file'])}")


def _safe(value: object) -> str:
    """Text as one line: a file or job name holding a newline must not forge a line of
    output; control characters are shown escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in str(value))


@runs.command()
@click.argument("run_id")
@_DB
@_JSON
def show(run_id: str, db_url: str | None, as_json: bool) -> None:
    """One run: its options, chunks, first rejects and checks."""
    found = _with_store(db_url, lambda store: show_run(store, run_id))
    if as_json:
        click.echo(json.dumps(found, default=str))
        return
    run = found["run"]
    for key in ("run_id", "job", "file", "status", "exit_code", "message", "started_at",
                "ended_at", "records_read", "records_loaded", "records_rejected"):
        click.echo(f"{key:<17}{_safe(run.get(key))}")
    if found["purged"]:
        click.echo(f"staging purged   {found['purged']['purged_at']} "
                   f"({found['purged']['rows_deleted']} rows)")
    for a in found["attempts"]:
        click.echo(f"attempt {a['attempt']:<8} {a['command']:<9} {a['started_at']} "
                   f"{a['status']:<9} exit {a['exit_code']}, loaded {_n(a['records_loaded'])}, "
                   f"{a['elapsed_s'] or 0:.1f} s (load {a['load_s'] or 0:.1f}, publish "
                   f"{a['publish_s'] or 0:.1f}, CPU {a['cpu_s'] or 0:.1f})")
    planned = f" of {found['planned']} planned so far" if found["planned"] else ""
    click.echo(f"chunks           {len(found['chunks'])} committed{planned}")
    for c in found["chunks"]:
        click.echo(f"  chunk {c['chunk_id']:>5} worker {c['worker_id']} records "
                   f"{c['first_record_no']}-{c['last_record_no']} loaded {c['rows_loaded']} "
                   f"rejected {c['rows_rejected']} at {c['committed_at']}")
    for c in found["to_load"]:
        click.echo(f"  chunk {c['chunk_id']:>5} not loaded: {c['plan']}")
    if found["not_loaded"] > len(found["to_load"]):
        click.echo(f"  ... {found['not_loaded'] - len(found['to_load'])} more not loaded")
    for r in found["rejects"]:
        click.echo(f"  reject record {r['record_no']} offset {r['byte_offset']} {r['field']}: "
                   f"{r['reason']}")
    for c in found["checks"]:
        click.echo(f"  check {c['check_name']:<34} {'PASS' if c['passed'] else 'FAIL'}")


@runs.command()
@click.argument("run_id")
@_DB
def cancel(run_id: str, db_url: str | None) -> None:
    """Stop a running run at its next chunk boundary (it ends STOPPED, restartable)."""
    click.echo(_with_store(db_url, lambda store: cancel_run(store, run_id)))


@runs.command()
@click.argument("run_id")
@click.option("--heartbeat-ttl", type=click.FloatRange(min=1), default=60.0, show_default=True)
@_DB
def abandon(run_id: str, heartbeat_ttl: float, db_url: str | None) -> None:
    """Give up a FAILED or STOPPED run: it never restarts, and the next launch of its content
    loads it afresh (its staging rows go with `runs purge`)."""
    def give_up(store: RunStore) -> str:
        abandon_run(store, run_id, heartbeat_ttl)
        run = store.run(run_id)
        return run.file if run else ""

    path = _with_store(db_url, give_up)
    if path:  # a compressed input's decompressed copy is no longer needed for a restart
        release_spool(path)
    click.echo(f"run {run_id}: ABANDONED")


@runs.command()
@click.option("--heartbeat-ttl", type=click.FloatRange(min=1), default=60.0, show_default=True)
@_DB
@_JSON
def recover(heartbeat_ttl: float, db_url: str | None, as_json: bool) -> None:
    """Mark FAILED (restartable) the runs whose launcher is gone."""
    found = _with_store(db_url, lambda store: recover_runs(store, heartbeat_ttl))
    click.echo(json.dumps({"recovered": found}) if as_json else
               f"recovered {len(found)} run(s) to FAILED" + "".join(f"\n  {r}" for r in found))


@runs.command()
@click.option("--older-than", "days", type=click.FloatRange(min=0), required=True,
              help="Purge the runs that ended more than this many days ago.")
@click.option("--dry-run", is_flag=True, help="Only say which runs and how many rows.")
@_DB
@_JSON
def purge(days: float, dry_run: bool, db_url: str | None, as_json: bool) -> None:
    """Delete the staging rows of old COMPLETED and ABANDONED runs.

    Staging keeps every run's rows, so without a purge it grows by a file a night, and so
    do the nightly scans that read it. Final rows, ledger, rejects and check results stay;
    a purged run can no longer be reconciled again (its report still shows its checks).
    FAILED and STOPPED runs are kept for their restart."""
    older_than = dt.timedelta(days=days)
    purged = _with_store(db_url, lambda store: purge_staging(store, older_than, dry_run))
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "runs": purged}))
        return
    verb = "would purge" if dry_run else "purged"
    click.echo(f"{verb} the staging rows of {len(purged)} run(s), "
               f"{sum(p['rows'] for p in purged)} rows"
               + "".join(f"\n  {p['run_id']}  {p['staging_table']}  {p['rows']} rows"
                         for p in purged))


@runs.command()
@_DB
@_JSON
def stats(db_url: str | None, as_json: bool) -> None:
    """Per job: runs, success rate, mean duration, records per second."""
    _echo_rows(_with_store(db_url, run_stats), as_json,
               lambda s: f"{s['job']:<24} runs {s['runs']:>5} (completed {s['completed']}, "
                         f"failed {s['failed']}, superseded {s['abandoned']})  success "
                         f"{s['success_rate']:.0%}  mean {s['mean_elapsed_s']:.1f} s  "
                         f"{s['records_per_s']:,.0f} records/s")


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _echo_rows(rows: list[dict[str, Any]], as_json: bool,
               line: Callable[[dict[str, Any]], str]) -> None:
    """The rows as one JSON list, or one line each."""
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(line(row))


def _with_store(db_url: str | None, work: Any) -> Any:
    store = RunStore.existing(resolve(db_url))
    try:
        return work(store)
    finally:
        store.close()
