"""The ``mfpipe`` command group; every command module adds its commands to it."""

from __future__ import annotations

import click

from mfpipe.logs import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mfpipe")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, envvar="MFPIPE_LOG_LEVEL",
              help="Least severe log events shown (stderr).")
@click.option("--log-format", type=click.Choice(["auto", "json", "console"]), default="auto",
              show_default=True, envvar="MFPIPE_LOG_FORMAT",
              help="Log lines as JSON or for people; auto: for people on a terminal only.")
def cli(log_level: str, log_format: str) -> None:
    """mfpipe: mainframe files into relational databases, fast and with proof."""
    configure_logging(log_level, log_format)
