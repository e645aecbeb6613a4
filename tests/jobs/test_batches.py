"""The batch runner's handling of its launchers, apart from the service (see tests/service
for batches end to end)."""

from __future__ import annotations

import subprocess
import sys
import time

from mfpipe.jobs import batches

DEAF = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(60)")


def test_a_cancelled_launcher_that_does_not_stop_is_killed(monkeypatch):
    """SIGTERM first (a chunk boundary stop); a launcher stuck past the grace period (in a
    database lock, say) is killed, so a cancelled batch always ends."""
    monkeypatch.setattr(batches, "KILL_AFTER_S", 0.5)
    launched = object.__new__(batches._Launched)
    launched.process = subprocess.Popen([sys.executable, "-c", DEAF], stdout=subprocess.PIPE)
    launched.stopped_at = None
    launched.process.stdout.readline()  # its handler is in place
    launched.stop()
    time.sleep(0.3)
    assert launched.process.poll() is None  # SIGTERM ignored
    time.sleep(0.4)
    launched.stop()
    assert launched.process.wait(timeout=10) == -9
