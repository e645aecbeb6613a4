"""What the load commands print: SQL*Loader-style counters, per worker, and the outcome."""

from __future__ import annotations

from typing import Any

import click


def print_summary(summary: Any, db: str) -> None:
    """SQL*Loader-style counters, per worker, and the outcome."""
    counts = summary.counts
    click.echo(f"run      {summary.run_id} -> {db}, table {summary.tables['staging']}")
    click.echo(f"status   {summary.status} (exit {summary.exit_code}) in {summary.elapsed_s:.2f} s"
               + (f": {summary.message}" if summary.message else ""))
    click.echo(f"records  read {counts['read']}, loaded {counts['loaded']}, rejected "
               f"{counts['rejected']}; chunks {counts['chunks_committed']}/{counts['chunks']}")
    for worker, c in counts["per_worker"].items():
        click.echo(f"  worker {worker}: read {c['read']}, loaded {c['written']}, rejected "
                   f"{c['rejected']}, batches {c['batches']}")
    recon = summary.reconciliation
    if recon:
        click.echo("checks   " + ("FAILED: " + ", ".join(recon["failed"]) if not recon["passed"]
                                  else "passed, with warnings: " + ", ".join(recon["warnings"])
                                  if recon["warnings"] else "all passed"))
        click.echo(f"verdict  {recon['verdict']}")
    if summary.bad_file:
        click.echo(f"rejects  in mfp_reject; original bytes in {summary.bad_file}")
