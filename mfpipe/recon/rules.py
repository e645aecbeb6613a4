"""Business rules as checks: the job's rules, and the copybook's 88-level values.

The rules and their violations come from :attr:`StagingSide.findings`, taken on the run's
staging rows, which no longer change once loaded: a launcher takes them while promotion
writes the final table.
"""

from __future__ import annotations

from mfpipe.recon.measures import Measurements
from mfpipe.recon.model import PROOF_SCAN, CheckResult
from mfpipe.recon.subject import RunSubject


def rule_checks(subject: RunSubject, measured: Measurements) -> list[CheckResult]:
    """Check #6 of ARCHITECTURE.md: each rule's violations among the run's staging rows
    (the row-wise rules' counts measured with the staging side; the others by a scan)."""
    row_wise = {rule.name for rule, _ in subject.row_rules}
    return [CheckResult(rule.name, f"rule_{rule.kind}", "0", str(found.count), found.count == 0,
                        severity="warn" if rule.severity == "warn" else "fail",
                        discrepancy=str(found.count),
                        details=tuple(f"{', '.join(rule.columns)}: {s}" for s in found.samples),
                        proof=measured.staging.proof if rule.name in row_wise else PROOF_SCAN)
            for rule, found in measured.staging.findings]
