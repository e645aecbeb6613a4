"""What every rendering of a report agrees on: the verdict, check states and number formats.

The text and HTML reports are signed off by operators, so both must say exactly the same
thing about a run; keeping the verdict and the formatting here makes that true by
construction instead of by review.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Literal, NamedTuple

from mfpipe.recon.model import (NOT_RECONCILED, CheckResult, HistoryEntry,
                                ReconciliationReport)

CheckState = Literal["PASS", "FAIL", "WARN"]

# The run status of a run that finished (mfpipe.db.status.COMPLETED; report may not import db).
COMPLETED = "COMPLETED"


class Verdict(NamedTuple):
    """The one-line answer an operator signs off on, plus the reasons behind it."""

    reconciled: bool
    headline: str  # RECONCILED, RECONCILED WITH WARNINGS or NOT RECONCILED
    reasons: tuple[str, ...]  # why not: failed checks, no checks, run not completed
    warnings: tuple[str, ...]  # names of warn-severity checks that failed

    @property
    def line(self) -> str:
        """The verdict as one line of text, reasons and warnings included."""
        parts = [self.headline]
        if self.reasons:
            parts.append("; ".join(self.reasons))
        if self.warnings:
            parts.append("warnings: " + ", ".join(self.warnings))
        return " - ".join(parts)


def verdict(report: ReconciliationReport) -> Verdict:
    """Reconciled only when checks ran, none of fail severity failed, and the run completed.

    ``report.passed`` is true for a report without checks; a sign-off sheet must not call
    a run reconciled when nothing was compared, nor when the run itself did not complete.
    """
    reasons: list[str] = []
    if report.failed:
        reasons.append("failed: " + ", ".join(report.failed))
    if not report.checks:
        reasons.append("no checks ran")
    if report.run.status != COMPLETED:
        reasons.append(f"run status {report.run.status or 'unknown'}")
    headline = NOT_RECONCILED if reasons else report.verdict
    return Verdict(not reasons, headline, tuple(reasons), tuple(report.warnings))


def check_state(check: CheckResult) -> CheckState:
    """PASS, FAIL, or WARN for a failed check of warn severity."""
    if check.passed:
        return "PASS"
    return "WARN" if check.severity == "warn" else "FAIL"


def fmt_int(value: int | None) -> str:
    """An integer with thousands separators, as operators read counts; '-' when unknown."""
    return "-" if value is None else f"{value:,}"


def fmt_float(value: float, digits: int = 1) -> str:
    """A float with thousands separators; 'n/a' for NaN or infinity (never a crash)."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def fmt_duration(seconds: float) -> str:
    """Seconds as SQL*Loader prints elapsed time: HH:MM:SS.hh."""
    if not math.isfinite(seconds) or seconds < 0:
        return "n/a"
    hundredths = round(seconds * 100)
    hours, rest = divmod(hundredths, 360_000)
    minutes, rest = divmod(rest, 6_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


def chronological(history: list[HistoryEntry]) -> list[HistoryEntry]:
    """Earlier runs oldest first (ISO 8601 timestamps sort as text), whatever order came in."""
    return sorted(history, key=lambda entry: entry.started_at)


def bar_value(value: float) -> float:
    """A value safe to draw: NaN, infinities and negatives become 0."""
    return value if math.isfinite(value) and value > 0 else 0.0


def printable(text: object) -> str:
    """Text with control and format characters shown as escapes, never acted upon.

    Data comes from mainframe files and operators' command lines: a newline, an ANSI
    escape or a right-to-left override inside a field must not forge a report line or
    reorder what the operator reads.
    """
    return "".join(char if not unicodedata.category(char).startswith("C")
                    else char.encode("unicode_escape").decode("ascii") for char in str(text))
