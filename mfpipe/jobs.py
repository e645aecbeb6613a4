"""Loading a file as an operator asks for it: the engine's run, promotion, reconciliation.

A run that completes is promoted to the final table in one transaction and reconciled; one
whose fail-severity checks do not pass ends FAILED with exit code 65, its rows left in
staging and final for inspection, and the report says which check failed and where.
"""

from __future__ import annotations

from mfpipe.db.runs import COMPLETED, FAILED, RunStore
from mfpipe.errors import EXIT_DATA
from mfpipe.pipeline.config import RunConfig
from mfpipe.pipeline.engine import Engine, RunSummary
from mfpipe.pipeline.progress import Progress
from mfpipe.recon import ReconciliationReport, ReconciliationService
from mfpipe.recon.subject import RunSubject


def run_load(config: RunConfig, progress: Progress | None = None) -> RunSummary:
    """Load ``config.input_path`` into staging, promote it and reconcile it."""
    store = RunStore(config.db_url)
    try:
        store.check_available(config.retry_s)
        summary = Engine(config, progress).run(store)
        if summary.status == COMPLETED:
            report = promote_and_reconcile(store, config.run_id)
            summary.counts["final"] = report.counts.final
            summary.reconciliation = report.summary()
            if not report.passed:
                summary.status, summary.exit_code = FAILED, EXIT_DATA
                summary.message = "reconciliation failed: " + ", ".join(report.failed)
                store.update(config.run_id, status=FAILED, exit_code=EXIT_DATA,
                             message=summary.message)
        return summary
    finally:
        store.close()


def promote_and_reconcile(store: RunStore, run_id: str) -> ReconciliationReport:
    """Promote a loaded run's staging rows to its final table, then reconcile the run."""
    subject = RunSubject.load(store, run_id)
    store.promote(run_id, subject.staging, subject.final, subject.config.key)
    return ReconciliationService(store).reconcile(run_id)
