"""Business rules as checks: the job's rules, and the copybook's 88-level values.

The rules and their violations come from :attr:`RunSubject.rule_findings`, taken on the
run's staging rows, which no longer change once loaded: a launcher takes them while
promotion writes the final table.
"""

from __future__ import annotations

from mfpipe.recon.model import CheckResult
from mfpipe.recon.subject import RunSubject


def rule_checks(subject: RunSubject) -> list[CheckResult]:
    """Check #6 of ARCHITECTURE.md: each rule's violations among the run's staging rows."""
    return [CheckResult(rule.name, f"rule_{rule.kind}", "0", str(found.count), found.count == 0,
                        severity="warn" if rule.severity == "warn" else "fail",
                        discrepancy=str(found.count),
                        details=tuple(f"{', '.join(rule.columns)}: {s}" for s in found.samples))
            for rule, found in subject.rule_findings]
