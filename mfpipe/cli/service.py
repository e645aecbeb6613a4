"""``mfpipe serve`` (the operations console) and ``mfpipe batch run`` (what it starts for a
launch)."""

from __future__ import annotations

import click

from mfpipe.cli.group import cli
from mfpipe.db.urls import DEFAULT_URL, redact, resolve
from mfpipe.errors import ConfigError

_DB = click.option("--db", "db_url",
                   help=f"Database URL (default: $MFPIPE_DB, then {DEFAULT_URL}).")


@cli.command()
@_DB
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; any but the loopback needs tokens.")
@click.option("--port", type=click.IntRange(1, 65535), default=8321, show_default=True)
@click.option("--jobs-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="The job files (TOML) that may be launched, and only these.")
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="Callers' tokens, one NAME:SECRET[:read-only] per line (also "
                   "$MFPIPE_TOKEN).")
def serve(db_url: str | None, host: str, port: int, jobs_dir: str,
          token_file: str | None) -> None:
    """The operations console: a REST API (OpenAPI at /docs) and a web page to launch job
    files in bulk, watch, cancel, retry and read each run's proof. Loads run in processes
    of their own: stopping the service stops none of them."""
    try:
        import uvicorn

        from mfpipe.service.app import create_app
        from mfpipe.service.settings import ServiceSettings
    except ImportError as exc:
        raise ConfigError(f"mfpipe serve needs the service extra ({exc.name} is missing): "
                          "pip install 'mfpipe[service]'") from None
    url = resolve(db_url)
    settings = ServiceSettings.of(url, jobs_dir, host, token_file)
    click.echo(f"mfpipe serve: http://{host}:{port}/ over {redact(url)}, jobs from "
               f"{settings.jobs_dir}", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@cli.group()
def batch() -> None:
    """The batches that mfpipe serve launches."""


@batch.command("run")
@click.argument("batch_id")
@_DB
def run_command(batch_id: str, db_url: str | None) -> None:
    """Run a queued batch's operations (what the service starts for a launch or a retry;
    exits 0 when every operation loaded or had nothing to do, 65 when one failed, 143 when
    cancelled)."""
    from mfpipe.jobs.batches import run_batch

    code = run_batch(resolve(db_url), batch_id)
    if code:
        raise click.exceptions.Exit(code)
