"""Hand-built reports for the report tests: a realistic night, an empty one, a hostile one."""

from __future__ import annotations

import dataclasses

from mfpipe.recon.model import (
    CheckResult,
    Counts,
    HistoryEntry,
    HistoryStat,
    ReconciliationReport,
    RejectGroup,
    RejectSample,
    RunInfo,
    WorkerStats,
)

RUN_ID = "20261122-0100-PAYROLL-7f3a"

# Markup an attacker could smuggle into a file name, a record or a field name.
SCRIPT_ALERT = "<script>alert(1)</script>"
IMG_ONERROR = '"><img src=x onerror=alert(1)>'
SCRIPT_TITLE = '<script>document.title="pwned";document.body.dataset.pwned="1"</script>'
HOSTILE = SCRIPT_TITLE + SCRIPT_ALERT + IMG_ONERROR

FAILED_DETAILS = ("chunk 17 (worker 2): 5 rows in staging, missing from PAYROLL_FINAL",
                  "chunk 31 (worker 3): 3 rows in staging, missing from PAYROLL_FINAL")
WARN_DETAILS = ("12 rejects against a threshold of 10 (0.00096% of records read)",)


def _run(**changes: object) -> RunInfo:
    run = RunInfo(
        run_id=RUN_ID, job="PAYROLL_DAILY", file="/data/in/PAYROLL.D261122.DAT",
        status="FAILED", exit_code=65, message="reconciliation failed: final_rows_match",
        started_at="2026-11-22T01:00:03Z", ended_at="2026-11-22T01:00:27Z",
        elapsed_s=24.37, cpu_s=61.9, database="postgresql://loader:***@db01:5432/dwh",
        staging_table="PAYROLL_STG", final_table="PAYROLL_FINAL")
    return dataclasses.replace(run, **changes)


def _checks() -> list[CheckResult]:
    return [
        CheckResult("read_equals_loaded_plus_rejected", "count", "1250000", "1249988 + 12",
                    True, discrepancy="0"),
        CheckResult("final_rows_match", "count", "1249988", "1249980", False,
                    discrepancy="8", details=FAILED_DETAILS),
        CheckResult("control_total_pay_amount", "sum", "98765432.10", "98765432.10", True),
        CheckResult("reject_rate", "threshold", "<= 10", "12", False, severity="warn",
                    discrepancy="2", details=WARN_DETAILS),
        CheckResult("rejects_recorded", "count", "12", "12", True, discrepancy="0"),
    ]


def _rejects() -> list[RejectGroup]:
    return [
        RejectGroup("invalid packed decimal (bad sign nibble)", "PAY-AMOUNT", 9, (
            RejectSample(104_233, 20_846_600, "PAY-AMOUNT", "00012345670A"),
            RejectSample(733_019, 146_603_800, "PAY-AMOUNT", "F0F0F0F0F0F0"))),
        RejectGroup("invalid date", "PAY-DATE", 3, (
            RejectSample(9_001, 1_800_200, "PAY-DATE", "F2F0F2F6F1F3F3F2"),)),
    ]


def _history() -> tuple[list[HistoryEntry], list[HistoryStat]]:
    history = [HistoryEntry(f"2026111{day}-0100-PAYROLL", f"2026-11-1{day}T01:00:0{day}Z",
                            "COMPLETED", 1_240_000 + day * 1_000, 1_240_000 + day * 1_000 - day,
                            day, 21.0 + day / 10) for day in (7, 8, 9)]
    history += [HistoryEntry("20261120-0100-PAYROLL", "2026-11-20T01:00:02Z", "COMPLETED",
                             1_249_000, 1_248_998, 2, 22.4),
                HistoryEntry("20261121-0100-PAYROLL", "2026-11-21T01:00:04Z", "FAILED",
                             600_000, 600_000, 0, 11.2)]
    stats = [HistoryStat("read", 1_250_000, 600_000, 1_125_400, 1_249_000, False),
             HistoryStat("loaded", 1_249_988, 600_000, 1_125_395.2, 1_248_998, False),
             HistoryStat("rejected", 12, 0, 4.6, 9, True),
             HistoryStat("elapsed_s", 24.37, 11.2, 19.4, 22.4, False)]
    return history, stats


def full_report() -> ReconciliationReport:
    """A failed night: 3 workers, a failed check, a failed warning, rejects, history."""
    history, stats = _history()
    return ReconciliationReport(
        run=_run(), counts=Counts(1_250_000, 1_249_988, 12, 0, 1_249_980), checks=_checks(),
        workers=[WorkerStats(1, 420_000, 419_995, 5, 42, 52_500.0),
                 WorkerStats(2, 415_000, 414_996, 4, 41, 51_875.3),
                 WorkerStats(3, 415_000, 414_997, 3, 41, 49_402.1)],
        rejects=_rejects(), history=history, history_stats=stats,
        restart_hint=f"mfpipe run --restart {RUN_ID} --job PAYROLL_DAILY",
        generated_at="2026-11-22T01:00:28Z")


def minimal_report() -> ReconciliationReport:
    """A run with nothing around it: no workers, checks, rejects or history."""
    return ReconciliationReport(run=_run(status="COMPLETED", exit_code=0, message=""),
                                counts=Counts(0, 0, 0, 0, 0))


def clean_report() -> ReconciliationReport:
    """A good night: the run completed and every check passed."""
    report = full_report()
    checks = [dataclasses.replace(c, passed=True, details=()) for c in report.checks]
    return dataclasses.replace(report, run=_run(status="COMPLETED", exit_code=0, message="ok"),
                               checks=checks, restart_hint="")


def hostile_report() -> ReconciliationReport:
    """The full report with markup in the job name, a check detail, a reject field and hex."""
    report = full_report()
    checks = list(report.checks)
    checks[1] = dataclasses.replace(checks[1], details=(*FAILED_DETAILS, HOSTILE))
    group = report.rejects[0]
    sample = dataclasses.replace(group.samples[0], field=HOSTILE, raw_hex=HOSTILE)
    rejects = [dataclasses.replace(group, field=HOSTILE, samples=(sample,)), *report.rejects[1:]]
    return dataclasses.replace(report, run=_run(job="PAYROLL_DAILY" + HOSTILE),
                               checks=checks, rejects=rejects)
