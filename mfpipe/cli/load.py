"""``mfpipe run``, ``reprocess`` and ``restart``: load files, again, or the rest of a run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from mfpipe import storage
from mfpipe.cli.group import cli
from mfpipe.cli.options import (decode_options, framing_options, reconcile_options,
                                reconcile_settings, source_options)
from mfpipe.cli.output import print_summary
from mfpipe.db.loaders import LOADERS
from mfpipe.db.urls import DEFAULT_URL, redact, resolve
from mfpipe.jobs.jobfile import read_job
from mfpipe.jobs.launch import LaunchSummary, launch, matching_files, segments_of
from mfpipe.jobs.restart import restart_run
from mfpipe.layout import load_layout
from mfpipe.pipeline.spec import EXECUTORS, JobSpec
from mfpipe.pipeline.engine import RunSummary
from mfpipe.pipeline.progress import Progress

F = Callable[..., Any]
_DB_HELP = f"Database URL (default: $MFPIPE_DB, then {DEFAULT_URL})."
_LOAD_OPTIONS = [
    click.option("--layout", "layout_path", type=click.Path(dir_okay=False),
                 help="The copybook (or source.layout in the job file)."),
    click.option("--db", "db_url", help=_DB_HELP),
    click.option("--processors", type=click.IntRange(min=1), default=2, show_default=True,
                 help="Processor processes (with --executor dask and no scheduler: the local "
                      "cluster's workers)."),
    click.option("--writers", type=click.IntRange(min=1), default=2, show_default=True),
    click.option("--executor", type=click.Choice(EXECUTORS), default="local",
                 show_default=True, help="Where the chunks run: this machine's processes, or "
                 "a Dask cluster (pip install 'mfpipe[dask]')."),
    click.option("--scheduler", help="With --executor dask: the scheduler's address, e.g. "
                 "tcp://10.0.0.5:8786 (default: $DASK_SCHEDULER_ADDRESS, else a local "
                 "cluster)."),
    click.option("--chunk-records", type=click.IntRange(min=1), default=50_000,
                 show_default=True),
    click.option("--max-errors", type=click.IntRange(min=0), default=50, show_default=True,
                 help="Fail the run when more records are rejected (0: no limit)."),
    click.option("--skip-records", type=click.IntRange(min=0), default=0,
                 help="Leave out the file's first N records (SQL*Loader's SKIP)."),
    click.option("--load-records", type=click.IntRange(min=0), default=0,
                 help="Read at most N records after those (SQL*Loader's LOAD; 0: all)."),
    click.option("--when", help="Load only the records meeting COLUMN OP VALUE [AND ...], "
                 "e.g. \"rec_type = 'D'\"; the others are discarded (SQL*Loader's WHEN)."),
    click.option("--discard-file", type=click.Path(),
                 help="Where the discarded records' original bytes go: a file, or a folder "
                      "for <input name>.<run id>.dsc (default: beside the input)."),
    click.option("--empty-file", type=click.Choice(["load", "skip", "fail"]), default="load",
                 show_default=True, help="A file with no records: load it (a zero-record "
                 "run that reconciles), skip it (99) or fail (65)."),
    click.option("--bad-file", type=click.Path(),
                 help="Where the rejected records' original bytes go: a file, or a folder "
                      "for <input name>.<run id>.bad (default: beside the input)."),
    click.option("--job", help="Job name (default: the record's table name)."),
    click.option("--loader", type=click.Choice(sorted(LOADERS)),
                 help="Bulk loader (default: the database's fastest; postgresql-adbc: "
                      "ADBC's COPY)."),
    click.option("--direct-path", is_flag=True, help="Oracle: Direct Path Load (opt-in)."),
    click.option("--retry-seconds", type=click.FloatRange(min=0), default=60.0,
                 show_default=True, help="How long transient database errors are retried."),
    click.option("--segments", is_flag=True,
                 help="A multi-segment file: one load per branch bound with --branch, each "
                      "with its own columns into its own tables (see --segment)."),
    click.option("--parallel-files", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Files of a glob (and segments) loaded at the same time."),
    click.option("--stop-on-error", is_flag=True,
                 help="Do not start further files of a glob after one fails."),
    click.option("--heartbeat-ttl", type=click.FloatRange(min=1), default=60.0,
                 show_default=True, help="Seconds without a heartbeat after which a run's "
                 "launcher counts as dead (its run is recovered to FAILED)."),
    click.option("--keep-staging-days", type=click.FloatRange(min=0),
                 help="After loading, purge the staging rows of the COMPLETED and ABANDONED "
                      "runs that ended more than this many days ago (see `runs purge`)."),
    click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
]


def load_options(command: F) -> F:
    """The options of every command that loads files."""
    for option in reversed(_LOAD_OPTIONS):
        command = option(command)
    return reconcile_options(source_options(command))


@cli.command("run")
@click.argument("job_file", required=False, type=click.Path(dir_okay=False))
@click.option("--input", "input_path", help="The mainframe file, or a glob of files.")
@load_options
@click.pass_context
def run_command(ctx: click.Context, job_file: str | None, **opts: Any) -> None:
    """Load files with a new RUN_ID each: skipped when already loaded and unchanged (exit 99).

    JOB_FILE is a TOML job file; options given on the command line override it.
    """
    _launch(_merged(ctx, job_file, opts), reprocess=False)


@cli.command()
@click.argument("path")
@click.argument("job_file", required=False, type=click.Path(dir_okay=False))
@click.option("--replace", "replace_runs", multiple=True, metavar="RUN_ID",
              help="Also replace this run of other content (a corrected re-send; "
                   "repeatable).")
@load_options
@click.pass_context
def reprocess(ctx: click.Context, path: str, job_file: str | None,
              replace_runs: tuple[str, ...], **opts: Any) -> None:
    """Load PATH again as a new run, replacing the earlier runs of the same content (and the
    runs named with --replace) once it is published."""
    _launch({**_merged(ctx, job_file, opts), "input_path": path}, reprocess=True,
            replace_runs=replace_runs)


@cli.command()
@click.argument("run_id")
@click.option("--db", "db_url", help=_DB_HELP)
@click.option("--heartbeat-ttl", type=click.FloatRange(min=1), default=60.0, show_default=True)
@click.option("--processors", type=click.IntRange(min=1), help="Another number of processors.")
@click.option("--writers", type=click.IntRange(min=1), help="Another number of writers.")
@click.option("--max-errors", type=click.IntRange(min=0), help="Another error limit (0: none).")
@click.option("--retry-seconds", "retry_s", type=click.FloatRange(min=0),
              help="Another retry period for transient database errors.")
@click.option("--executor", type=click.Choice(EXECUTORS),
              help="Run the missing chunks on another executor (local or dask).")
@click.option("--scheduler", help="With --executor dask: the scheduler's address.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def restart(run_id: str, db_url: str | None, heartbeat_ttl: float, as_json: bool,
            **changes: Any) -> None:
    """Resume a FAILED or STOPPED run: only the chunks missing from its ledger are loaded.

    Only how fast it runs and its error limit may change; what is loaded and proved is the
    run's own."""
    url = resolve(db_url)
    changed = {k: v for k, v in changes.items() if v is not None}
    if changed.get("executor") == "local":  # a run begun on a cluster, finished here
        changed["scheduler"] = None
    summary = restart_run(run_id, url, Progress(bar=False if as_json else None),
                          heartbeat_ttl, changed)
    _print(summary, url, as_json)
    if summary.exit_code:
        raise click.exceptions.Exit(summary.exit_code)


def _merged(ctx: click.Context, job_file: str | None, opts: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the job file, then what the command line says."""
    if not job_file:
        return opts
    from_job = read_job(job_file)
    return {**opts, **{k: v for k, v in from_job.items()
                       if ctx.get_parameter_source(k) != ParameterSource.COMMANDLINE}}


def _launch(opts: dict[str, Any], reprocess: bool, replace_runs: tuple[str, ...] = ()) -> None:
    for name, flag in (("layout_path", "--layout"), ("input_path", "--input")):
        if not opts.get(name):
            raise click.UsageError(f"{flag} is required (or a job file that gives it)")
    record = load_layout(opts["layout_path"]).record(opts["record_name"])
    base = JobSpec.of(
        os.path.abspath(opts["layout_path"]), storage.absolute(opts["input_path"]),
        resolve(opts["db_url"]), framing_options(opts, record), decode_options(opts),
        record_name=opts["record_name"], job=opts["job"] or "", processors=opts["processors"],
        writers=opts["writers"], chunk_records=opts["chunk_records"],
        max_errors=opts["max_errors"], empty_file=opts["empty_file"],
        executor=opts["executor"], scheduler=opts["scheduler"],
        skip_records=opts["skip_records"], load_records=opts["load_records"],
        when=opts["when"], discard_file=opts["discard_file"],
        bad_file=opts["bad_file"], loader=opts["loader"],
        direct_path=opts["direct_path"], retry_s=opts["retry_seconds"],
        keep_staging_days=opts["keep_staging_days"], **reconcile_settings(opts))
    files = matching_files(opts["input_path"])
    segments = segments_of(base) if opts["segments"] else ()
    summary = launch(base, files, lambda: Progress(bar=False if opts["as_json"] else None),
                     opts["parallel_files"], opts["stop_on_error"], reprocess,
                     opts["heartbeat_ttl"], replace_runs, segments)
    if len(summary.runs) == 1 and not summary.not_started:
        _print(summary.runs[0], base.execution.db_url, opts["as_json"])
    else:
        _print_launch(summary, opts["as_json"])
    if summary.exit_code:
        raise click.exceptions.Exit(summary.exit_code)


def _print(summary: RunSummary, url: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.to_json(), default=str))
    elif summary.counts:
        print_summary(summary, redact(url))
    else:
        click.echo(f"run      {summary.run_id or '-'}: {summary.status} (exit "
                   f"{summary.exit_code}): {summary.message}")


def _print_launch(summary: LaunchSummary, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.to_json(), default=str))
        return
    click.echo(f"launch   {summary.status} (exit {summary.exit_code}): {len(summary.runs)} "
               f"file(s) run, {len(summary.not_started)} not started")
    for run in summary.runs:
        counts = run.counts
        loaded = f"loaded {counts.get('loaded', 0)}, rejected {counts.get('rejected', 0)}; " \
            if counts else ""
        click.echo(f"  {run.run_id or '-':<23}  {run.status:<9} exit {run.exit_code:<3} {loaded}"
                   f"{run.message}")
    for path in summary.not_started:
        click.echo(f"  not started: {path}")
