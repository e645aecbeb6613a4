"""Files and launchers for the job tests: keyed sample files, CLI runs in other processes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.recon.conftest import LAYOUT, keyed_file
from tests.support import wait_for_commits

__all__ = ["LAYOUT", "keyed_file", "launcher", "wait_for_commits", "RUN_ARGS"]

RUN_ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--key", "cust_id",
            "--processors", "2", "--writers", "1"]
CLI = "import sys\nfrom mfpipe.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def launcher(args: list[str], cwd) -> subprocess.Popen:
    """`mfpipe ARGS` in a process of its own (so it can be killed like a cron job's)."""
    return subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])
