"""MetricsAggregator: per-worker counts shared by every process through a Manager.

Counts are updated once per chunk, never per record. Each key has one owner (a processor
for its read/processed/rejected counts; the writer process, under a local lock, for
written/batches), so no Manager lock is held across processes: a process killed mid-update
cannot leave the others waiting.
"""

from __future__ import annotations

import threading
from typing import Any

COUNTERS = ("read", "processed", "rejected", "written", "batches")


class MetricsAggregator:
    """Per-worker counters in a ``multiprocessing.Manager`` dict (picklable proxy)."""

    def __init__(self, manager: Any) -> None:
        self._counts = manager.dict()
        self._local = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"_counts": self._counts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._counts = state["_counts"]
        self._local = threading.Lock()

    def add(self, worker_id: int, **deltas: int) -> None:
        """Add to a worker's counters (thread-safe within a process)."""
        with self._local:
            for name, delta in deltas.items():
                key = f"{worker_id}:{name}"
                self._counts[key] = self._counts.get(key, 0) + delta

    def per_worker(self) -> dict[int, dict[str, int]]:
        """``{worker_id: {counter: value}}`` with every counter present."""
        snapshot = dict(self._counts)
        workers = sorted({int(key.split(":")[0]) for key in snapshot})
        return {w: {c: snapshot.get(f"{w}:{c}", 0) for c in COUNTERS} for w in workers}

    def totals(self) -> dict[str, int]:
        per = self.per_worker()
        return {c: sum(w[c] for w in per.values()) for c in COUNTERS}
