"""The demo: a sample file generated, loaded into the embedded database, reconciled, and
its report printed, so a fresh machine shows what mfpipe does in one command."""

from __future__ import annotations

from pathlib import Path

import click

from mfpipe.cli.group import cli
from mfpipe.cli.options import decode_options, framing_options, source_defaults
from mfpipe.cli.output import print_summary
from mfpipe.db.runs import RunStore
from mfpipe.db.urls import DEFAULT_URL, redact, resolve
from mfpipe.errors import OutputError
from mfpipe.jobs import load_file
from mfpipe.jobs.load import SKIPPED
from mfpipe.layout import load_layout
from mfpipe.pipeline import generate_file
from mfpipe.pipeline.spec import JobSpec
from mfpipe.pipeline.progress import Progress
from mfpipe.recon import ReconciliationService
from mfpipe.report import render

DEMO_LAYOUT = Path(__file__).resolve().parent.parent / "data" / "customer.cpy"


def report_text(run_id: str, db_url: str) -> str:
    """The text report of a reconciled run, as ``mfpipe report`` prints it."""
    store = RunStore(db_url)
    try:
        return render(ReconciliationService(store).report(run_id), "text")
    finally:
        store.close()


@cli.command()
@click.option("--dir", "directory", default="mfpipe-demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the sample file goes.")
@click.option("--db", "db_url", help=f"Database URL (default: $MFPIPE_DB, then {DEFAULT_URL}).")
@click.option("--records", type=click.IntRange(min=1), default=100_000, show_default=True)
def demo(directory: str, db_url: str | None, records: int) -> None:
    """Generate a sample EBCDIC file (5 bad records), load it, reconcile it, print the report.

    The sample is the same file every time (for the same --records): a second demo finds it
    loaded and shows that run's report instead of loading it twice."""
    url = resolve(db_url)
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError.of(out, exc) from None
    record = load_layout(DEMO_LAYOUT).record()
    opts = source_defaults(dates=("open_date=YYYYMMDD",))
    framing, options = framing_options(opts, record), decode_options(opts)
    sample = generate_file(record, out / "customer.dat", records, framing, options, bad=5, seed=1)
    click.echo(f"layout   {DEMO_LAYOUT} ({record.size}-byte records, {len(record.fields)} "
               "columns)")
    click.echo(f"input    {sample.path}: {sample.records} records, EBCDIC cp037, "
               f"corrupted on purpose: {list(sample.bad_records)}")
    config = JobSpec.of(str(DEMO_LAYOUT), sample.path, url, framing, options,
                       job="demo")
    summary = load_file(config, Progress())
    if summary.status == SKIPPED:
        click.echo(f"loaded   already, by run {summary.run_id} (the same sample): its report")
    else:
        print_summary(summary, redact(url))
    if summary.reconciliation or summary.status == SKIPPED:  # the run got to its checks
        click.echo()
        click.echo(report_text(str(summary.run_id), url))
        click.echo(f"\nnext     mfpipe report {summary.run_id} --format html -o report.html")
    if summary.exit_code and summary.status != SKIPPED:
        raise click.exceptions.Exit(summary.exit_code)
