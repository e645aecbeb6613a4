"""``mfpipe reconcile`` and ``mfpipe report``: proof for a run, again or on paper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mfpipe.cli.group import cli
from mfpipe.db.runs import RunStore
from mfpipe.db.urls import DEFAULT_URL, resolve
from mfpipe.errors import EXIT_DATA, EXIT_OK, OutputError
from mfpipe.recon import ReconciliationReport, ReconciliationService
from mfpipe.report import FORMATS, render

_DB = click.option("--db", "db_url",
                   help=f"Database URL (default: $MFPIPE_DB, then {DEFAULT_URL}).")


@cli.command()
@click.argument("run_id")
@_DB
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def reconcile(run_id: str, db_url: str | None, as_json: bool) -> None:
    """Run every check on a run again (e.g. after someone touched the final table).

    Exits 0 when every fail-severity check passes, 65 when one does not.
    """
    store = RunStore.existing(resolve(db_url))
    try:
        report = ReconciliationService(store).reconcile(run_id)
    finally:
        store.close()
    code = EXIT_OK if report.passed else EXIT_DATA
    if as_json:
        click.echo(json.dumps(run_summary(report, code)))
    else:
        click.echo(render(report, "text"))
    if code:
        raise click.exceptions.Exit(code)


@cli.command()
@click.argument("run_id")
@_DB
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
def report(run_id: str, db_url: str | None, fmt: str, output: str | None) -> None:
    """Print the reconciliation report of a run (the checks as its last reconciliation left
    them)."""
    if output is not None:
        OutputError.check(output, "report")
    store = RunStore.existing(resolve(db_url))
    try:
        text = render(ReconciliationService(store).report(run_id), fmt)
    finally:
        store.close()
    if output is None:
        click.echo(text)
        return
    try:
        Path(output).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError.of(output, exc) from None
    click.echo(f"report of {run_id} written to {output}", err=True)


def run_summary(report: ReconciliationReport, exit_code: int) -> dict[str, Any]:
    """The ``--json`` object of ARCHITECTURE.md, built from a reconciled run."""
    counts = report.counts
    return {"schema_version": 1, "run_id": report.run.run_id, "status": report.run.status,
            "exit_code": exit_code,
            "counts": {"read": counts.read, "loaded": counts.loaded, "rejected": counts.rejected,
                       "final": counts.final, "nulled": counts.nulled,
                       "per_worker": {str(w.worker_id): {"read": w.read, "loaded": w.loaded,
                                                         "rejected": w.rejected}
                                      for w in report.workers}},
            "tables": {"staging": report.run.staging_table, "final": report.run.final_table},
            "reconciliation": report.summary(), "elapsed_s": report.run.elapsed_s}
