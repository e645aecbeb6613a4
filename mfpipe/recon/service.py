"""ReconciliationService: run every check on a run, keep the results, build the report.

``check`` runs the checks (at the end of a load, inside the publishing transaction: see
:mod:`mfpipe.recon.publish`); ``reconcile`` runs them again later (``mfpipe reconcile
RUN_ID``) and replaces the run's rows in ``mfp_recon_result``; ``report`` rebuilds the
report from what was kept, without re-running anything, so a report shows what was signed
off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from decimal import localcontext

from mfpipe.codec.digest import EXACT
from mfpipe.db.runs import RunStore, utcnow
from mfpipe.errors import EXIT_NO_INPUT, RunError
from mfpipe.recon import facts
from mfpipe.recon.content import content_checks
from mfpipe.recon.counts import count_checks
from mfpipe.recon.history import history, history_check, history_stats
from mfpipe.recon.measures import Measurements, measure_run
from mfpipe.recon.model import CheckResult, ReconciliationReport
from mfpipe.recon.rules import rule_checks
from mfpipe.recon.subject import RunSubject
from mfpipe.recon.totals import total_checks
from mfpipe.recon.trailer import trailer_checks

Check = Callable[[RunSubject, Measurements], list[CheckResult]]
# The checks of ARCHITECTURE.md in their order; history (#7) is added with the report's data.
CHECKS: tuple[Check, ...] = (count_checks, trailer_checks, total_checks, content_checks,
                             rule_checks)


class ReconciliationService:
    """Reconciles runs of one database."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def reconcile(self, run_id: str) -> ReconciliationReport:
        """Run every check on a run again (an audit: a fresh scan of staging and final, e.g.
        after someone touched the final table), store the results, and return the report.

        A run whose staging rows were purged cannot be checked again (its staging side is
        gone): that is an error naming the purge, not a run of failing checks."""
        self._refuse_purged(run_id)
        subject = RunSubject.load(self.store, run_id)
        report = self.check(subject, measure_run(subject))
        self.store.save_checks(run_id, [stored(c) for c in report.checks])
        return report

    def check(self, subject: RunSubject, measured: Measurements) -> ReconciliationReport:
        """Run every check on ``subject``'s measures and return the report; nothing is
        stored."""
        with localcontext(EXACT):  # totals are summed, combined and compared unrounded
            checks = [c for check in CHECKS for c in check(subject, measured)]
        report = self._report(subject, checks, measured.final.rows)
        report.checks += history_check(report.history_stats)
        return report

    def report(self, run_id: str) -> ReconciliationReport:
        """The report of a run with the check results stored by its last reconciliation."""
        subject = RunSubject.load(self.store, run_id)
        kept = [CheckResult(r["check_name"], r["check_type"], r["expected"] or "",
                            r["actual"] or "", bool(r["passed"]), r["severity"],
                            r["discrepancy"] or "", tuple(r["details"]), r["proof"])
                for r in self.store.checks(run_id)]
        return self._report(subject, kept, facts.final_rows(subject))

    def _report(self, subject: RunSubject, checks: list[CheckResult], final_rows: int
                ) -> ReconciliationReport:
        entries = history(subject)
        attempts = self.store.attempts(subject.run_id)
        return ReconciliationReport(
            facts.run_info(subject), facts.counts(subject, final_rows), checks,
            facts.worker_stats(subject, attempts), facts.attempt_info(attempts),
            facts.reject_groups(subject), entries, history_stats(subject, entries),
            facts.restart_hint(subject), utcnow().isoformat(timespec="seconds") + "Z",
            [note for note in (subject.config.source.copybook_drift(),) if note])

    def _refuse_purged(self, run_id: str) -> None:
        """A run whose staging rows were purged cannot be checked again."""
        purge = self.store.purge(run_id)
        if purge is not None:
            purged = purge["purged_at"]
            raise RunError(run_id, f"its staging rows were purged at {purged:%Y-%m-%d %H:%M:%S}"
                                   " UTC (`mfpipe runs purge`), so its checks cannot run "
                                   f"again; its checks as they last ran: `mfpipe report "
                                   f"{run_id}`", EXIT_NO_INPUT)


def stored(check: CheckResult) -> dict[str, Any]:
    """A check result as the run store keeps it."""
    return {"check_name": check.check, "check_type": check.type, "expected": check.expected,
            "actual": check.actual, "discrepancy": check.discrepancy, "passed": check.passed,
            "severity": check.severity, "details": check.details, "proof": check.proof}
