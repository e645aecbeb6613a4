"""The ``mfpipe`` command group; every command module adds its commands to it.

A command's module is imported when the command is asked for, not before: ``convert`` and
``gen`` start without SQLAlchemy, the database layer, the service or the reconciliation
(about half a second of imports that a file conversion does not use), and ``layout`` and
``ddl`` with the dialects' SQL types only.
"""

from __future__ import annotations

import importlib

import click

from mfpipe.logs import configure_logging

# command -> the module of mfpipe.cli that defines it
COMMANDS = {"layout": "describe", "ddl": "describe", "demo": "demo", "convert": "files",
            "gen": "files", "run": "load", "reprocess": "load", "restart": "load",
            "reconcile": "recon", "report": "recon", "runs": "runs", "serve": "service",
            "batch": "service"}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (and all of them for ``--help``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            importlib.import_module(f"mfpipe.cli.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
