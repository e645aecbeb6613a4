"""Restart: finish a FAILED or STOPPED run, loading only the chunks missing from its ledger.

The run's config comes back from its stored options, so the file is framed into the same
chunks; chunks in the ledger are counted, not loaded again (their rows and ledger row
committed together), and the per-worker counts of earlier attempts come from the ledger.
Promotion and reconciliation then run as for an uninterrupted run, with the same result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mfpipe.db.registry import FileFacts, FileRegistry, is_alive, recover
from mfpipe.db.runs import ACTIVE, COMPLETED, RESTARTABLE, RunStore
from mfpipe.errors import EXIT_TEMPORARY, EXIT_USAGE, RunError
from mfpipe.jobs.load import EXIT_NOTHING_TO_DO, finish, release
from mfpipe.pipeline.config import config_from_options
from mfpipe.pipeline.engine import Engine, RunSummary
from mfpipe.pipeline.progress import Progress
from mfpipe.recon.subject import RunSubject


def restart_run(run_id: str, db_url: str, progress: Progress | None = None,
                ttl_s: float = 60.0) -> RunSummary:
    """Resume ``run_id``; refuse (with the reason and its exit code) what cannot be resumed."""
    store = RunStore(db_url)
    try:
        store.check_available(60.0)
        subject = RunSubject.load(store, run_id)  # a missing run: exit 66
        _check_restartable(store, subject.run, ttl_s)
        store.end_sessions(run_id)  # then the ledger no longer changes: read it now
        config = config_from_options(subject.run["options"], db_url)
        facts = FileFacts.of(config.input_path)
        if config.file_sha256 and facts.sha256 != config.file_sha256:
            raise RunError(run_id, f"{config.input_path} has changed since the run began "
                                   "(another checksum); load it as a new run with `mfpipe "
                                   "reprocess`", EXIT_USAGE)
        registry = FileRegistry(store, ttl_s)
        claim = registry.claim(facts, run_id, reprocess=True)
        if claim.outcome == "held":
            raise RunError(run_id, f"{config.input_path} is being loaded by run "
                                   f"{claim.run_id}", EXIT_TEMPORARY)
        done = {int(c["chunk_id"]): (int(c["worker_id"]),
                                     int(c["last_record_no"]) - int(c["first_record_no"]) + 1,
                                     int(c["rows_loaded"]), int(c["rows_rejected"]))
                for c in store.ledger(run_id)}
        config = replace(config, db_url=db_url)
        summary = Engine(config, progress).run(store, done)
        finish(store, config, summary, facts, restarted=True)
        release(registry, facts.path, summary)
        return summary
    finally:
        store.close()


def _check_restartable(store: RunStore, run: dict[str, Any], ttl_s: float) -> None:
    """A live run is not restarted (75); a dead one is recovered first; a completed one has
    nothing to restart (99); an abandoned one cannot be (64)."""
    run_id, status = run["run_id"], run["status"]
    if status in ACTIVE:
        if is_alive(run, ttl_s):
            raise RunError(run_id, f"is still running (pid {run['pid']} on {run['host']}, "
                                   f"heartbeat {run['heartbeat_at']})", EXIT_TEMPORARY)
        with store.engine.begin() as c:
            recover(c, run_id)
        return
    if status == COMPLETED:
        raise RunError(run_id, "completed; nothing to restart (`mfpipe reprocess` loads the "
                               "file again)", EXIT_NOTHING_TO_DO)
    if status not in RESTARTABLE:
        raise RunError(run_id, f"is {status}; only FAILED and STOPPED runs restart",
                       EXIT_USAGE)
