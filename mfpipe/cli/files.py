"""The commands that read or write mainframe files and need no database: convert and gen.

They import neither SQLAlchemy nor the database layer, so a command starts in the time
NumPy and pyarrow take to import (see :mod:`mfpipe.cli.group`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from mfpipe.cli.group import cli
from mfpipe.cli.options import decode_options, framing_options, source_defaults, source_options
from mfpipe.errors import EXIT_DATA
from mfpipe.layout import load_layout
from mfpipe.pipeline.convert import convert_file
from mfpipe.pipeline.samples import generate_file


@cli.command()
@click.argument("copybook", type=click.Path(dir_okay=False))
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="OUT.parquet or OUT.jsonl; rejects go to OUT.rejects.jsonl.")
@click.option("--chunk-records", type=click.IntRange(min=1), default=50_000, show_default=True)
@click.option("--provenance", is_flag=True, help="Add _source_file, _record_no and "
              "_byte_offset to every row.")
@click.option("--nested", is_flag=True, help="A hierarchical file (--branch, --parent): one "
              "row per record of the root segment, its children inside it as a list per "
              "child segment, named after it.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@source_options
def convert(copybook: str, input_path: str, output: str, chunk_records: int, provenance: bool,
            nested: bool, as_json: bool, **opts: Any) -> None:
    """Decode a mainframe file into Parquet or JSON Lines (no database)."""
    record = load_layout(copybook).record(opts["record_name"])
    result = convert_file(record, input_path, output, framing_options(opts, record),
                          decode_options(opts), chunk_records, provenance=provenance,
                          nested=nested)
    if as_json:
        click.echo(json.dumps(result.__dict__))
    else:
        rows = f" in {result.rows} nested rows" if result.nested else ""
        click.echo(f"read {result.read} records from {result.input}: {result.written} written "
                   f"to {result.output}{rows}, {result.rejected} rejected to "
                   f"{result.rejects_path}"
                   + (f", {result.other_segments} of other segments" if result.other_segments
                      else "") + f" ({result.elapsed_s:.2f} s)")
        for column, fields in result.nulled.items():
            click.echo(f"  {column}: {fields} invalid value(s) written as NULL")
    if result.read and result.rejected == result.read:
        click.echo(f"mfpipe: error: every record of {result.input} was rejected: check "
                   "--encoding, --recfm, --lrecl and --record against the file", err=True)
        raise click.exceptions.Exit(EXIT_DATA)


@cli.command()
@click.argument("copybook", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--records", type=click.IntRange(min=0), required=True)
@click.option("--recfm", type=click.Choice(["FB", "VB", "TEXT"], case_sensitive=False),
              default="FB", show_default=True)
@click.option("--bdw", is_flag=True, help="Write VB records in BDW blocks.")
@click.option("--encoding", default="cp037", show_default=True)
@click.option("--bad", type=click.IntRange(min=0), default=0, help="Corrupt this many records.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--record", "record_name", help="01-level record to generate.")
@click.option("--date", "dates", multiple=True, metavar="COLUMN=FORMAT")
@click.option("--unique", metavar="C1,C2", help="Columns that count up from 1: a key each "
              "record holds once (e.g. for a job with --key).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (with every bad "
              "record number) as JSON.")
def gen(copybook: str, output: str, records: int, recfm: str, bdw: bool, encoding: str,
        bad: int, seed: int, record_name: str | None, dates: tuple[str, ...],
        unique: str | None, as_json: bool) -> None:
    """Write a realistic sample file for any layout, optionally with corrupted records."""
    record = load_layout(copybook).record(record_name)
    opts = source_defaults(recfm=recfm, bdw=bdw, encoding=encoding, dates=dates)
    columns = tuple(c.strip() for c in unique.split(",") if c.strip()) if unique else ()
    sample = generate_file(record, output, records, framing_options(opts, record),
                           decode_options(opts), bad, seed, unique=columns)
    if as_json:
        click.echo(json.dumps(sample.__dict__))
        return
    shown = ", ".join(map(str, sample.bad_records[:20])) + (" ..." if bad > 20 else "")
    click.echo(f"wrote {sample.records} records ({sample.size} bytes) to {sample.path}"
               + (f"; corrupted records: {shown}" if bad else ""))
