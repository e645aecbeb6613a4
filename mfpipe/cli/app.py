"""The ``mfpipe`` command: parse, call, print, exit with the code of ARCHITECTURE.md.

Reached through :func:`mfpipe.cli.main`, which starts the fork server of a loading command
before these imports."""

from __future__ import annotations

import json
import sys

import click
import structlog

from mfpipe.cli.group import cli
from mfpipe.errors import EXIT_INTERNAL, EXIT_TEMPORARY, EXIT_USAGE, MfpipeError, first_line
from mfpipe.logs import configure_logging

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one clear line on stderr and a documented exit code
    (and, with ``--json``, a JSON object on stdout saying the same)."""
    configure_logging()
    args = sys.argv[1:] if argv is None else argv
    try:
        # without standalone mode, click returns an Exit's code instead of raising it
        code = cli.main(args=args, prog_name="mfpipe", standalone_mode=False)
    except MfpipeError as exc:
        return _failed(args, exc.exit_code, str(exc), exc.code)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.Abort:
        click.echo("mfpipe: aborted", err=True)
        return 130
    except Exception as exc:  # the last line of defence: say what happened, exit 70
        if _lost_database(exc):  # the database went away during the command
            orig = getattr(exc, "orig", None)
            return _failed(args, EXIT_TEMPORARY, "database unavailable: "
                           + first_line(orig if orig is not None else exc), "MFP-5002")
        structlog.get_logger().exception("internal error")
        click.echo(f"mfpipe: internal error: {type(exc).__name__}: {exc}", err=True)
        return EXIT_INTERNAL
    return code if isinstance(code, int) else 0


def _lost_database(exc: Exception) -> bool:
    """A SQLAlchemy OperationalError (imported only by the commands that use a database)."""
    sa = sys.modules.get("sqlalchemy")
    return sa is not None and isinstance(exc, sa.exc.OperationalError)


def _failed(args: list[str], exit_code: int, message: str, code: str) -> int:
    """Say why the command failed: one line on stderr, and the ``--json`` object."""
    click.echo(f"mfpipe: error: {message}", err=True)
    if "--json" in args:
        click.echo(json.dumps({"schema_version": 1, "run_id": None, "status": "FAILED",
                               "exit_code": exit_code, "message": message, "error": code}))
    return exit_code
