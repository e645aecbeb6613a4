"""The ``mfpipe`` entry point stays light: a loading command starts its fork server before
the CLI imports Arrow, NumPy and SQLAlchemy, so that the two import at once."""

from __future__ import annotations

import subprocess
import sys


def test_entry_point_imports_nothing_heavy():
    """Importing ``mfpipe.cli`` (the console script's module) loads no heavy library."""
    probe = ("import sys, mfpipe.cli; "
             "print(sorted(m for m in ('pyarrow', 'numpy', 'sqlalchemy', 'click') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_cli_group_is_still_importable():
    """``from mfpipe.cli import cli`` (tests, embedding) resolves to the click group."""
    from mfpipe.cli import cli

    assert "run" in cli.commands
