"""Loading a file as an operator asks for it: the engine's run, then its reconciliation.

A run that completes but does not reconcile ends with exit code 65: the data is in staging
for inspection, and the report says which check failed.
"""

from __future__ import annotations

import sqlalchemy as sa

from mfpipe.db.runs import COMPLETED, FAILED, RunStore
from mfpipe.errors import EXIT_DATA
from mfpipe.pipeline.config import RunConfig
from mfpipe.pipeline.engine import Engine, RunSummary
from mfpipe.pipeline.progress import Progress
from mfpipe.recon import Reconciliation, count_checks


def run_load(config: RunConfig, progress: Progress | None = None) -> RunSummary:
    """Load ``config.input_path`` into staging and reconcile the counts."""
    store = RunStore(config.db_url)
    try:
        store.check_available(config.retry_s)
        summary = Engine(config, progress).run(store)
        if summary.status == COMPLETED:
            staging = sa.Table(summary.tables["staging"], sa.MetaData(), autoload_with=store.engine)
            recon = Reconciliation(config.run_id, count_checks(
                summary.counts, store.staging_counts(staging, config.run_id),
                store.reject_count(config.run_id)))
            summary.reconciliation = recon.to_json()
            if not recon.passed:
                summary.status, summary.exit_code = FAILED, EXIT_DATA
                summary.message = "reconciliation failed: " + ", ".join(recon.failed)
                store.update(config.run_id, status=FAILED, exit_code=EXIT_DATA,
                             message=summary.message)
        return summary
    finally:
        store.close()
