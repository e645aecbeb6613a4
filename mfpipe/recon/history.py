"""History: tonight's run against the last runs of the same job.

A count or a duration far outside what the job usually does is worth a look even when every
other check passes (a half-empty file, a table that suddenly loads ten times slower). It is
a warning, never a failure: files do grow.
"""

from __future__ import annotations

import statistics

from mfpipe.db.status import COMPLETED
from mfpipe.recon.model import CheckResult, HistoryEntry, HistoryStat
from mfpipe.recon.subject import RunSubject

RUNS = 10  # earlier runs compared
MINIMUM = 3  # fewer earlier runs than this: nothing is flagged
TOLERANCE = 0.25  # flagged when outside [min, max] widened by this share
METRICS = ("read", "loaded", "rejected", "elapsed_s")


def history(subject: RunSubject) -> list[HistoryEntry]:
    """The last completed runs of the job before this one, newest first."""
    runs = subject.store.runs(job=subject.run.job, status=COMPLETED,
                              before=subject.run.started_at, limit=RUNS)
    return [HistoryEntry(r.run_id, r.started_at.isoformat(timespec="seconds"),
                         r.status, int(r.records_read or 0),
                         int(r.records_loaded or 0), int(r.records_rejected or 0),
                         float(r.elapsed_s or 0.0)) for r in runs]


def history_stats(subject: RunSubject, entries: list[HistoryEntry]) -> list[HistoryStat]:
    """min/mean/max of each metric over ``entries``, and whether tonight's lies outside."""
    if not entries:
        return []
    run = subject.run
    today = {"read": run.records_read, "loaded": run.records_loaded,
             "rejected": run.records_rejected, "elapsed_s": run.elapsed_s}
    stats = []
    for metric in METRICS:
        values = [float(getattr(e, metric)) for e in entries]
        low, high = min(values), max(values)
        value = float(today[metric] or 0)
        spread = max(high - low, abs(high)) * TOLERANCE
        flagged = len(values) >= MINIMUM and not low - spread <= value <= high + spread
        stats.append(HistoryStat(metric, value, low, round(statistics.fmean(values), 3), high,
                                 flagged))
    return stats


def history_check(stats: list[HistoryStat]) -> list[CheckResult]:
    """Check #7: a warning naming the metrics outside the job's usual range."""
    if not stats:
        return []
    flagged = [s for s in stats if s.flagged]
    return [CheckResult("history", "history", "within the last runs' range",
                        ", ".join(f"{s.metric} {s.today:g}" for s in flagged) or "within range",
                        not flagged, "warn", details=tuple(
                            f"{s.metric}: {s.today:g} against {s.minimum:g}-{s.maximum:g} "
                            f"(mean {s.mean:g})" for s in flagged))]
