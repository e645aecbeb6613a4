"""The commands that describe a layout for a database: layout and ddl.

They need the SQL types of each dialect (:mod:`mfpipe.db.dialects`), but neither the runs,
the loaders, the jobs nor the reconciliation (see :mod:`mfpipe.cli.group`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from mfpipe.cli.group import cli
from mfpipe.cli.options import decode_options, source_defaults
from mfpipe.codec import DecodePlan
from mfpipe.db import dialects
from mfpipe.db.schema import ddl
from mfpipe.layout import load_layout


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
            **{d: dialects.get(d).type_name(arrow) for d in dialects.NAMES}}


@cli.command("ddl")
@click.argument("copybook", type=click.Path(dir_okay=False))
@click.option("--dialect", type=click.Choice(dialects.NAMES), required=True)
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
        click.echo(ddl(r.table, DecodePlan.compile(r, options).schema, dialects.get(dialect),
                       columns))
