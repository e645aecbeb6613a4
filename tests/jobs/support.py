"""Files and launchers for the job tests: keyed sample files, CLI runs in other processes,
and fingerprints of what a file holds and what the final table holds for a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import sqlalchemy as sa

from mfpipe.codec import DecodePlan
from mfpipe.codec.digest import content_hash, hash_columns
from mfpipe.db.digest import as_hash
from mfpipe.db.runs import RunStore
from mfpipe.layout import load_layout
from mfpipe.recon.subject import RunSubject
from tests.recon.conftest import LAYOUT, OPTIONS, keyed_file
from tests.support import wait_for_commits

__all__ = ["LAYOUT", "keyed_file", "launcher", "wait_for_commits", "RUN_ARGS",
           "file_fingerprint", "final_fingerprint", "descendants_of", "wait_gone", "main_json"]

RUN_ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--key", "cust_id",
            "--processors", "2", "--writers", "1"]
CLI = "import sys\nfrom mfpipe.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def launcher(args: list[str], cwd) -> subprocess.Popen:
    """`mfpipe ARGS` in a process of its own (so it can be killed like a cron job's)."""
    return subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def file_fingerprint(path: str) -> tuple[int, int]:
    """(rows, content hash) of the whole file decoded in one go: the uninterrupted result."""
    plan = DecodePlan.compile(load_layout(LAYOUT).record(), OPTIONS)
    matrix = np.fromfile(path, dtype=np.uint8).reshape(-1, 100)
    decoded = plan.decode(matrix, 1, np.arange(len(matrix)) * 100)
    return decoded.batch.num_rows, content_hash(decoded.batch, hash_columns(plan.schema))


def final_fingerprint(db_url: str, run_id: str) -> tuple[int, int]:
    """(rows, content hash) of what the final table holds for the run, computed in SQL."""
    store = RunStore(db_url)
    subject = RunSubject.load(store, run_id)
    row = store.dialect.canonical_row(subject.final, subject.types,
                                      subject.config.proof.hash_columns)
    count, total = subject.rows(sa.select(sa.func.count(), store.dialect.digest_sum(row))
                                .where(subject.in_final))[0]
    store.close()
    return int(count), as_hash(total)


def descendants_of(pid: int) -> list[int]:
    """Process ids of every process below ``pid`` (children, and theirs: a fork server's)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def wait_gone(pids: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{p}") for p in pids):
            return
        time.sleep(0.05)
    raise AssertionError(f"processes {pids} outlived their launcher by {timeout} s")


def main_json(args: list[str], cwd) -> tuple[int, dict]:
    """`mfpipe ARGS --json` in a process of its own: its exit code and summary."""
    done = subprocess.run([sys.executable, "-c", CLI, *args, "--json"], capture_output=True,
                          text=True, cwd=cwd, timeout=300)
    return done.returncode, last_json(done.stdout)
