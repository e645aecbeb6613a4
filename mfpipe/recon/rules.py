"""Business rules as checks: the job's rules, and the copybook's 88-level values.

Rules run on the run's staging rows (every record that was loaded, duplicates included).
A level-88 list of VALUEs says what a field is expected to hold; by default each becomes an
allowed-values rule with severity warn, because copybooks do not always list every value.
"""

from __future__ import annotations

from mfpipe.db.rules import Rule
from mfpipe.db.violations import violations
from mfpipe.layout import RecordLayout
from mfpipe.recon.model import CheckResult
from mfpipe.recon.subject import RunSubject


def condition_rules(record: RecordLayout) -> list[Rule]:
    """An allowed-values rule (warn) for every loaded field with level-88 single VALUEs."""
    rules = []
    for f in record.fields:
        values = [v for c in f.conditions for v in c.values]
        if values and not any(c.ranges for c in f.conditions):
            rules.append(Rule("allowed", (f.column,), tuple(values), "warn"))
    return rules


def rule_checks(subject: RunSubject) -> list[CheckResult]:
    """Check #6 of ARCHITECTURE.md: each rule's violations among the run's staging rows."""
    rules = list(subject.config.rules)
    if subject.config.condition_rules:
        named = {r.name for r in rules}
        rules += [r for r in condition_rules(subject.record) if r.name not in named]
    checks = []
    with subject.store.engine.connect() as connection:
        for rule in rules:
            found = violations(connection, rule, subject.staging, subject.in_staging,
                               subject.types)
            checks.append(CheckResult(
                rule.name, f"rule_{rule.kind}", "0", str(found.count), found.count == 0,
                severity="warn" if rule.severity == "warn" else "fail",
                discrepancy=str(found.count),
                details=tuple(f"{', '.join(rule.columns)}: {s}" for s in found.samples)))
    return checks
