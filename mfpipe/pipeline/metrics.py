"""MetricsAggregator: per-worker counts and times shared by every process through a Manager.

Counts are updated once per chunk, never per record. Each key has one owner (a processor
for its read/processed/rejected counts and its busy seconds; the writer process, under a
local lock, for written/batches; every process for its own CPU seconds), so no Manager
lock is held across processes: a process killed mid-update cannot leave the others waiting.
The processes are the fork server's children, not the launcher's, so the launcher's own
``RUSAGE_CHILDREN`` never sees their CPU: each process reports it here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from typing import Any

COUNTERS = ("read", "processed", "rejected", "discarded", "written", "batches", "busy_s")


class MetricsAggregator:
    """Per-worker counters in ``counts``: a ``multiprocessing.Manager`` dict (a picklable
    proxy every process updates), or a plain dict where one process adds what the workers
    report (the Dask executor: a Manager cannot span hosts)."""

    def __init__(self, counts: MutableMapping[str, float]) -> None:
        self._counts = counts
        self._local = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"_counts": self._counts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._counts = state["_counts"]
        self._local = threading.Lock()

    def add(self, worker_id: int, **deltas: float) -> None:
        """Add to a worker's counters (thread-safe within a process)."""
        with self._local:
            for name, delta in deltas.items():
                key = f"{worker_id}:{name}"
                self._counts[key] = self._counts.get(key, 0) + delta

    def cpu(self, process: str) -> None:
        """Record the CPU seconds a process has used so far (its own, since it started)."""
        self._counts[f"cpu:{process}"] = round(time.process_time(), 3)

    def per_worker(self) -> dict[int, dict[str, float]]:
        """``{worker_id: {counter: value}}`` with every counter present (busy seconds: the
        time a processor spent decoding, rounded to the millisecond)."""
        snapshot = {k: v for k, v in dict(self._counts).items() if not k.startswith("cpu:")}
        workers = sorted({int(key.split(":")[0]) for key in snapshot})
        return {w: {c: round(snapshot.get(f"{w}:{c}", 0), 3) if c == "busy_s"
                    else snapshot.get(f"{w}:{c}", 0) for c in COUNTERS} for w in workers}

    def cpu_seconds(self) -> float:
        """The CPU seconds every process reported (processors and writer)."""
        counts: dict[str, float] = dict(self._counts)
        return float(sum(v for k, v in counts.items() if k.startswith("cpu:")))
