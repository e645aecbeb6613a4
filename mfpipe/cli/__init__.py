"""The ``mfpipe`` command (:mod:`mfpipe.cli.app`), behind an entry point that imports little.

A loading command starts its processes' fork server first, so that the server's imports
(Arrow, NumPy, the database layer: most of a second) run on the other core while the CLI
imports its own; started later, the run would wait for them before its first chunk. This
module imports nothing heavy: the commands are imported after that start.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from mfpipe.pipeline import forking

LOADING_COMMANDS = frozenset({"run", "reprocess", "restart", "demo"})

__all__ = ["cli", "entry_point", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one clear line on stderr and a documented exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in LOADING_COMMANDS:
        forking.start()
    from mfpipe.cli.app import main as run_cli

    return run_cli(argv)


def entry_point() -> None:
    """The console script: exit with ``main``'s code."""
    sys.exit(main())


def __getattr__(name: str) -> Any:
    if name == "cli":  # the click group with every command, for tests and embedding
        return importlib.import_module("mfpipe.cli.app").cli
    raise AttributeError(f"module 'mfpipe.cli' has no attribute {name!r}")
