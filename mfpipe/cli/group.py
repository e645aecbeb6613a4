"""The ``mfpipe`` command group; every command module adds its commands to it."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mfpipe")
def cli() -> None:
    """mfpipe: mainframe files into relational databases, fast and with proof."""
