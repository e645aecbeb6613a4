"""Restart: finish a FAILED or STOPPED run, loading only the chunks missing from its ledger.

The run's config comes back from its stored options, so the file is framed into the same
chunks; chunks in the ledger are counted, not loaded again (their rows and ledger row
committed together), and the per-worker counts of earlier attempts come from the ledger.
Publication then runs as for an uninterrupted run, with the same result. Only the options
that do not change what is loaded may differ (``RESUMABLE``: processors, writers, error
limit, retries). A live run is not restarted (75); an ABANDONED one, or one whose content
another run has published since, never is (64); a COMPLETED one has nothing to do (99).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from mfpipe.db.claims import ClaimRequest, claim
from mfpipe.db.identity import LoadIdentity
from mfpipe.db.runs import RunStore
from mfpipe.errors import EXIT_NO_INPUT, EXIT_USAGE, RunError
from mfpipe.jobs.load import file_facts, run_attempt
from mfpipe.pipeline.spec import RESUMABLE, spec_from_options, file_sha256
from mfpipe.pipeline.engine import RunSummary
from mfpipe.pipeline.progress import Progress

log = structlog.get_logger()


def restart_run(run_id: str, db_url: str, progress: Progress | None = None,
                ttl_s: float = 60.0, changes: Mapping[str, Any] | None = None) -> RunSummary:
    """Resume ``run_id`` (``changes``: new values of resumable options); refuse, with the
    reason and its exit code, what cannot be resumed."""
    unknown = set(changes or {}) - RESUMABLE
    if unknown:
        raise RunError(run_id, f"restart cannot change {', '.join(sorted(unknown))}",
                       EXIT_USAGE)
    store = RunStore(db_url)
    try:
        store.check_available(60.0)
        run = store.run(run_id)
        if run is None:
            raise RunError(run_id, "no such run in this database (see `mfpipe runs list`)",
                           EXIT_NO_INPUT)
        if not run.options:
            raise RunError(run_id, f"is {run.status} and never began loading: nothing to "
                                   "restart; load the file with `mfpipe run`", EXIT_USAGE)
        config = spec_from_options(run.options, db_url).changed(**(changes or {}))
        config.check_outputs()
        drift = config.source.copybook_drift()
        if drift:  # the stored copybook decodes every attempt alike: say so, and go on
            log.warning(drift, run_id=run_id)
        elif not config.source.layout_text and config.source.layout_sha256 and \
                file_sha256(config.source.layout_path) != config.source.layout_sha256:
            raise RunError(run_id, f"copybook {config.source.layout_path} has changed since "
                                   "the run began, and the run predates stored copybooks: its "
                                   "chunks would be decoded two ways; `mfpipe reprocess` loads "
                                   "the file afresh with the new copybook", EXIT_USAGE)
        facts = file_facts(config.source.input_path)
        if config.source.file_sha256 and facts.sha256 != config.source.file_sha256:
            raise RunError(run_id, f"{config.source.input_path} has changed since the run began "
                                   "(another checksum); load it as a new run with `mfpipe "
                                   "run`", EXIT_USAGE)
        decision = claim(store, facts, LoadIdentity.of_run(run),
                         ClaimRequest("restart", run_id, allowed=config.target.replaces), ttl_s)
    finally:
        store.close()
    if decision.outcome == "held" and decision.run_id == run_id:
        raise RunError(run_id, "is still running (its launcher is alive); `mfpipe runs "
                               "cancel` stops it", decision.exit_code)
    if decision.outcome != "resume":
        raise RunError(run_id, decision.message, decision.exit_code)
    return run_attempt(config, decision.attempt, facts, progress, resuming=True)
