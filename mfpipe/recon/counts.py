"""Count checks: every record read is loaded or rejected, per run and per worker.

The per-worker check compares two independent witnesses: the MetricsAggregator's counts
(reported by the processes as they worked) and ``GROUP BY worker_id`` on the staging table.
"""

from __future__ import annotations

from typing import Any

from mfpipe.recon.model import CheckResult


def count_checks(counts: dict[str, Any], staging_by_worker: dict[int, int],
                 rejects_in_db: int) -> list[CheckResult]:
    """Check #1 of ARCHITECTURE.md from a run's counts and what the database holds."""
    read, loaded, rejected = counts["read"], counts["loaded"], counts["rejected"]
    checks = [CheckResult("read_equals_loaded_plus_rejected", "count", str(read),
                          f"{loaded} + {rejected}", read == loaded + rejected,
                          discrepancy=str(read - loaded - rejected)),
              CheckResult("staging_rows", "count", str(loaded),
                          str(sum(staging_by_worker.values())),
                          loaded == sum(staging_by_worker.values())),
              CheckResult("rejects_recorded", "count", str(rejected), str(rejects_in_db),
                          rejected == rejects_in_db)]
    per_worker = {int(w): c for w, c in counts["per_worker"].items()}
    for worker in sorted(set(per_worker) | set(staging_by_worker)):
        metric = per_worker.get(worker, {})
        written = metric.get("written", 0)
        in_staging = staging_by_worker.get(worker, 0)
        balanced = metric.get("read", 0) == metric.get("processed", 0) + metric.get(
            "rejected", 0)
        checks.append(CheckResult(f"worker_{worker}_rows", "count_per_worker", str(written),
                                  str(in_staging), written == in_staging and balanced,
                                  discrepancy=str(written - in_staging)))
    return checks
