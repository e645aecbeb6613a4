"""The ``mfpipe`` command: parse, call, print, exit with the code of ARCHITECTURE.md.

Reached through :func:`mfpipe.cli.main`, which starts the fork server of a loading command
before these imports."""

from __future__ import annotations

import click
import structlog

from mfpipe.cli import commands, load, recon, runs  # noqa: F401  (each adds its commands)
from mfpipe.cli.group import cli
from mfpipe.errors import EXIT_INTERNAL, EXIT_USAGE, MfpipeError
from mfpipe.logs import configure_logging

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one clear line on stderr and a documented exit code."""
    configure_logging()
    try:
        # without standalone mode, click returns an Exit's code instead of raising it
        code = cli.main(args=argv, prog_name="mfpipe", standalone_mode=False)
    except MfpipeError as exc:
        click.echo(f"mfpipe: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.Abort:
        click.echo("mfpipe: aborted", err=True)
        return 130
    except Exception as exc:  # the last line of defence: say what happened, exit 70
        structlog.get_logger().exception("internal error")
        click.echo(f"mfpipe: internal error: {type(exc).__name__}: {exc}", err=True)
        return EXIT_INTERNAL
    return code if isinstance(code, int) else 0
