"""The reconciliation result model: one row per check, rendered by every report format."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["fail", "warn"]


@dataclass(frozen=True)
class CheckResult:
    """One check: what was expected, what was found, and whether that is acceptable."""

    check: str
    type: str
    expected: str
    actual: str
    passed: bool
    severity: Severity = "fail"
    discrepancy: str = ""


@dataclass
class Reconciliation:
    """All checks of one run."""

    run_id: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no fail-severity check failed (warnings do not fail a run)."""
        return all(c.passed or c.severity == "warn" for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.check for c in self.checks if not c.passed and c.severity == "fail"]

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed,
                "checks": [asdict(c) for c in self.checks]}
