"""The import direction of STYLE.md, checked with import-linter's contracts in setup.cfg."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support import ROOT


class TestLayers:
    def test_imports_point_one_way(self):
        """layout <- codec <- framing <- db <- pipeline <- cli: no module reaches upward."""
        result = subprocess.run(
            [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
             " sys.exit(lint_imports_command())", "--config", "setup.cfg", "--no-logo"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_importing_db_needs_no_driver(self):
        """mfpipe.db imports without psycopg, adbc or oracledb (drivers load in dialect modules)."""
        code = ("import sys; import mfpipe.db, mfpipe.cli; "
                "bad = [m for m in ('psycopg', 'oracledb', 'adbc_driver_postgresql') "
                "if m in sys.modules]; sys.exit(len(bad))")
        assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0

    def test_only_the_database_layer_holds_the_engine(self):
        """RunStore is the one door to the control tables: no other package reaches past
        it to the store's SQLAlchemy engine."""
        offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "mfpipe").rglob("*.py")
                     if "db" not in path.relative_to(ROOT).parts
                     and re.search(r"\bstore\.engine\b", path.read_text())]
        assert offenders == []
