"""The commands that describe a layout for a database, and the demo: layout, ddl, demo
(``convert`` and ``gen``, which need no database, are in :mod:`mfpipe.cli.files`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mfpipe.cli.group import cli
from mfpipe.cli.options import decode_options, framing_options, source_defaults
from mfpipe.cli.output import print_summary
from mfpipe.codec import DecodePlan
from mfpipe.db import DIALECTS, ddl, sql_type
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


@cli.command()
@click.argument("copybook", type=click.Path(dir_okay=False))
@click.option("--record", "record_name", help="Only this 01-level record.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def layout(copybook: str, record_name: str | None, as_json: bool) -> None:
    """Print the fields of a copybook: offsets, lengths, types, Arrow and SQL types."""
    parsed = load_layout(copybook)
    records = [parsed.record(record_name)] if record_name else list(parsed.records)
    rows = [dict(record=r.table, **_field_row(f, r)) for r in records for f in r.fields]
    if as_json:
        click.echo(json.dumps({"layout": copybook, "records": [
            {"record": r.table, "name": r.name, "size": r.size} for r in records],
            "fields": rows}, indent=2))
        return
    for r in records:
        click.echo(f"record {r.name} -> table {r.table}, {r.size} bytes, {len(r.fields)} columns")
        mine = [row for row in rows if row["record"] == r.table]
        headers = ["column", "offset", "length", "usage", "picture", "scale", "signed", "arrow",
                   "postgresql", "oracle"]
        widths = [max(len(h), *(len(str(row[h])) for row in mine)) for h in headers]
        click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
        for row in mine:
            click.echo("  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths)))


def _field_row(f: Any, r: Any) -> dict[str, Any]:
    arrow = f.arrow_field
    return {"column": f.column, "name": f.name, "level": f.level, "offset": f.offset,
            "length": f.size, "usage": f.usage.value, "category": f.category.value,
            "picture": f.picture or "-", "digits": f.digits, "scale": f.scale,
            "signed": f.signed, "arrow": str(arrow.type),
            **{d: str(sql_type(arrow, d).compile(dialect=_dialect(d))) for d in DIALECTS}}


def _dialect(name: str) -> Any:
    from mfpipe.db.schema import dialect_for

    return dialect_for(name)


@cli.command("ddl")
@click.argument("copybook", type=click.Path(dir_okay=False))
@click.option("--dialect", type=click.Choice(DIALECTS), required=True)
@click.option("--record", "record_name", help="Only this 01-level record.")
@click.option("--date", "dates", multiple=True, metavar="COLUMN=FORMAT",
              help="Columns decoded as dates (they become DATE columns).")
@click.option("--key", help="Key columns of the final table, comma-separated (its primary "
              "key, as `run --key` makes it).")
def ddl_command(copybook: str, dialect: str, record_name: str | None, dates: tuple[str, ...],
                key: str | None) -> None:
    """Print CREATE TABLE statements for the staging and final tables."""
    parsed = load_layout(copybook)
    records = [parsed.record(record_name)] if record_name else list(parsed.records)
    columns = tuple(c.strip() for c in key.split(",") if c.strip()) if key else ()
    for r in records:
        options = decode_options(source_defaults(dates=dates))
        click.echo(ddl(r.table, DecodePlan.compile(r, options).schema, dialect, columns))


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
