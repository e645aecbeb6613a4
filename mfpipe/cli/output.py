"""What the load commands print: SQL*Loader-style counters, per worker, and the outcome."""

from __future__ import annotations

from typing import Any

import click


def print_summary(summary: Any, db: str) -> None:
    """SQL*Loader-style counters, per worker, and the outcome."""
    counts = summary.counts
    click.echo(f"run      {summary.run_id} -> {db}, table {summary.tables['staging']}")
    phases = ", ".join(f"{name.removesuffix('_s')} {seconds:.2f} s"
                       for name, seconds in summary.phases.items())
    click.echo(f"status   {summary.status} (exit {summary.exit_code}) in {summary.elapsed_s:.2f} s"
               + (f" ({phases}; CPU {summary.cpu_s:.2f} s; attempt {summary.attempt})"
                  if phases else "") + (f": {summary.message}" if summary.message else ""))
    click.echo(f"records  read {counts['read']}, loaded {counts['loaded']}, rejected "
               f"{counts['rejected']}; chunks {counts['chunks_committed']}/{counts['chunks']}")
    for worker, c in counts["per_worker"].items():
        click.echo(f"  worker {worker}: read {c['read']}, loaded {c['written']}, rejected "
                   f"{c['rejected']}, batches {c['batches']}, decoding {c['busy_s']:.2f} s")
    recon = summary.reconciliation
    if recon:
        click.echo("checks   " + ("FAILED: " + ", ".join(recon["failed"]) if not recon["passed"]
                                  else "passed, with warnings: " + ", ".join(recon["warnings"])
                                  if recon["warnings"] else "all passed"))
        click.echo(f"verdict  {recon['verdict']}")
    if summary.bad_file:
        click.echo(f"rejects  in mfp_reject; original bytes in {summary.bad_file}")
