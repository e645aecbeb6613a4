"""mfpipe commands run as processes of their own, for callers that must not load or prove
inside themselves (the service, a batch's runner): the same CLI an operator runs, so the
same claims, exit codes and JSON summaries hold.

The database URL goes by environment (``MFPIPE_DB``), never on a command line that other
users of the host can read.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any


def cli_process(db_url: str, *args: str, stdout: IO[bytes] | int = subprocess.DEVNULL,
                stderr: IO[bytes] | int = subprocess.DEVNULL, detached: bool = False
                ) -> subprocess.Popen[bytes]:
    """``mfpipe ARGS`` as a child process (``detached``: in a session of its own, so it
    outlives its parent and the parent's terminal)."""
    return subprocess.Popen([sys.executable, "-m", "mfpipe", *args],
                            env={**os.environ, "MFPIPE_DB": db_url}, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=stderr, start_new_session=detached)


def start_detached(db_url: str, *args: str, log: Path | None = None) -> int:
    """Start ``mfpipe ARGS`` apart from this process (its log lines appended to ``log``)
    and return its process id; it is reaped when it ends (never left a zombie that looks
    alive)."""
    if log is None:
        process = cli_process(db_url, *args, detached=True)
    else:
        with open(log, "ab") as handle:  # the child keeps its own descriptor
            process = cli_process(db_url, *args, stderr=handle, detached=True)
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid


def run_cli(db_url: str, *args: str, timeout_s: float) -> tuple[int, dict[str, Any] | None]:
    """Run ``mfpipe ARGS --json`` to its end: its exit code and its JSON summary."""
    done = subprocess.run([sys.executable, "-m", "mfpipe", *args, "--json"],
                          env={**os.environ, "MFPIPE_DB": db_url}, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout_s, check=False)
    return done.returncode, last_json(done.stdout)


def last_json(output: bytes) -> dict[str, Any] | None:
    """The JSON object on the last line of a command's output (None if there is none)."""
    lines = output.decode("utf-8", "replace").strip().splitlines()
    with contextlib.suppress(ValueError, IndexError):
        found = json.loads(lines[-1])
        return found if isinstance(found, dict) else None
    return None
