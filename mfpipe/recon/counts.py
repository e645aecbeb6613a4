"""Count checks: every record read is loaded or rejected, and every loaded row is where it
should be: per run, per worker, and from staging on to the final table.

The per-worker check compares two independent witnesses: the MetricsAggregator's counts
(reported by the processes as they worked) and the staging rows of each worker, as the
database counted them (each chunk's rows of its worker, measured inside the chunk's
transaction; ``GROUP BY worker_id`` in a scan).
"""

from __future__ import annotations


from mfpipe.recon.measures import Measurements
from mfpipe.recon.model import CheckResult
from mfpipe.recon.subject import RunSubject


def count_checks(subject: RunSubject, measured: Measurements) -> list[CheckResult]:
    """Checks #1 and #3 of ARCHITECTURE.md."""
    run = subject.run
    read, loaded, rejected, discarded = (int(n or 0) for n in (
        run.records_read, run.records_loaded, run.records_rejected, run.records_discarded))
    staging = measured.staging
    by_worker = {w: m.rows for w, m in staging.by("worker").items()}
    rejects = subject.store.reject_count(subject.run_id, subject.connection)
    checks = [
        _equal("read_equals_loaded_plus_rejected", "count", read,
               loaded + rejected + discarded),
        _equal("staging_rows", "count", loaded, staging.staged.rows, staging.proof),
        _equal("rejects_recorded", "count", rejected, int(rejects)),
        _final_rows(measured),
    ]
    return checks + _worker_checks(subject.metrics, by_worker, staging.proof)


def _worker_checks(metrics: dict[int, dict[str, int]], by_worker: dict[int, int],
                   proof: str) -> list[CheckResult]:
    checks = []
    for worker in sorted(set(metrics) | set(by_worker)):
        metric = metrics.get(worker, {})
        written, in_staging = metric.get("written", 0), by_worker.get(worker, 0)
        balanced = metric.get("read", 0) == metric.get("processed", 0) + metric.get(
            "rejected", 0) + metric.get("discarded", 0)
        details = () if balanced else (
            f"worker {worker} read {metric.get('read', 0)} but processed "
            f"{metric.get('processed', 0)}, rejected {metric.get('rejected', 0)} and "
            f"discarded {metric.get('discarded', 0)}",)
        checks.append(CheckResult(f"worker_{worker}_rows", "count_per_worker", str(written),
                                  str(in_staging), written == in_staging and balanced,
                                  discrepancy=str(in_staging - written), details=details,
                                  proof=proof))
    return checks


def _final_rows(measured: Measurements) -> CheckResult:
    """Every staging row is in the final table, or was replaced there by a later record of
    the same key (promotion takes the last record per key): nothing vanishes unexplained."""
    staged, final = measured.staging.staged.rows, measured.final.rows
    replaced = staged - measured.staging.promoted.rows
    details = (f"{final} row(s) in the final table + {replaced} earlier record(s) of a "
               "repeated key, replaced by a later one",) if replaced else ()
    return CheckResult("final_rows", "count", str(staged), str(final + replaced),
                       final + replaced == staged, discrepancy=str(final + replaced - staged),
                       details=details, proof=measured.final_proof)


def _equal(name: str, kind: str, expected: int, actual: int, proof: str = "") -> CheckResult:
    return CheckResult(name, kind, str(expected), str(actual), expected == actual,
                       discrepancy=str(actual - expected), proof=proof)
