"""The plain-text operator report: fit for email, at most 100 columns, nothing truncated.

Laid out like a SQL*Loader log (run header, counters, elapsed and CPU time) because that is
what mainframe operators already read; the verdict comes first and last so that neither a
quick glance nor a scroll to the bottom can miss it.
"""

from __future__ import annotations

from mfpipe.recon.model import PROOF_LEGEND, CheckResult, ReconciliationReport
from mfpipe.report._common import (
    check_state,
    chronological,
    fmt_duration,
    fmt_float,
    fmt_int,
    printable,
    verdict,
)
from mfpipe.report._texttable import WIDTH, field, fit, free_width, indented, table, wrap

__all__ = ["render_text"]

_RULE = "=" * WIDTH


def render_text(report: ReconciliationReport) -> str:
    """The whole report as text, one section after another, ending with a newline."""
    sections = [_title(report), _run(report), _counts(report), _attempts(report),
                _workers(report),
                _checks(report), _rejects(report), _history(report), _restart(report),
                _notes(report), [_RULE, *indented("VERDICT: " + verdict(report).line, ""), _RULE]]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


def _title(report: ReconciliationReport) -> list[str]:
    return [_RULE, *indented(f"mfpipe reconciliation report - run {report.run.run_id}", ""),
            *indented("VERDICT: " + verdict(report).line, ""), _RULE]


def _run(report: ReconciliationReport) -> list[str]:
    run = report.run
    exit_code = "-" if run.exit_code is None else str(run.exit_code)
    return ["Run", *field("Run id", run.run_id), *field("Job", run.job),
            *field("File", run.file), *field("Database", run.database),
            *field("Staging table", run.staging_table), *field("Final table", run.final_table),
            *field("Status", run.status), *field("Exit code", exit_code),
            *field("Message", run.message), *field("Started", run.started_at),
            *field("Ended", run.ended_at), *field("Generated", report.generated_at)]


def _counts(report: ReconciliationReport) -> list[str]:
    counts, run = report.counts, report.run
    rows = [("Total logical records skipped:", fmt_int(counts.skipped)),
            ("Total logical records read:", fmt_int(counts.read)),
            ("Total logical records loaded:", fmt_int(counts.loaded)),
            ("Total logical records rejected:", fmt_int(counts.rejected)),
            ("Total logical records discarded:", fmt_int(counts.discarded)),
            ("Rows in the final table (this run):", fmt_int(counts.final)),
            ("", ""),
            ("Elapsed time was:", fmt_duration(run.elapsed_s)),
            ("CPU time was:", fmt_duration(run.cpu_s))]
    lines = ["Counts", *(f"  {label:<36}{value:>16}".rstrip() for label, value in rows)]
    if counts.nulled:
        lines += ["", "  Invalid numeric fields loaded as NULL (--invalid-numeric null):",
                  *(f"    {column:<34}{fmt_int(n):>16}" for column, n in counts.nulled.items())]
    return lines


def _attempts(report: ReconciliationReport) -> list[str]:
    if not report.attempts:
        return []
    rows = [(a.attempt, a.command, a.started_at[5:19].replace("T", " "), a.status,
             "-" if a.exit_code is None else a.exit_code, fmt_int(a.records_loaded),
             *(fmt_float(s, 2) for s in (a.elapsed_s, a.load_s, a.publish_s, a.cpu_s)))
            for a in report.attempts]
    headers = ("#", "Command", "Started (UTC)", "Status", "Exit", "Loaded", "Elapsed",
               "Load", "Publish", "CPU")
    lines = table(headers, rows, (2, 9, 14, 9, 4, 10, 8, 8, 8, 8),
                  frozenset({0, 4, 5, 6, 7, 8, 9}))
    return ["Attempts (seconds; the run's times add up every attempt's)", *lines]


def _workers(report: ReconciliationReport) -> list[str]:
    if not report.workers:
        return ["Workers", "  No worker statistics recorded."]
    rows = [(w.worker_id, fmt_int(w.read), fmt_int(w.loaded), fmt_int(w.rejected),
             fmt_int(w.chunks), fmt_float(w.records_per_s)) for w in report.workers]
    headers = ("Worker", "Read", "Loaded", "Rejected", "Chunks", "Records/s")
    return ["Workers (records/s: per second of the worker's own decoding time)",
            *table(headers, rows, (8, 15, 15, 15, 10, 15), frozenset(range(6)))]


def _checks(report: ReconciliationReport) -> list[str]:
    checks = report.checks
    if not checks:
        return ["Checks", "  No checks ran: nothing was compared."]
    passed = sum(check.passed for check in checks)
    lines = [(f"Checks ({len(checks)} run, {passed} passed, "
             f"{len(report.failed)} failed, {len(report.warnings)} warned)")]
    # the check's type shows in its name (and in the HTML and JSON reports): the values
    # get the width, so that totals and hashes stay on one line
    headers = ("Check", "Expected", "Actual", "Discrepancy", "Sev", "Result")
    name_w = fit([c.check for c in checks], "Check", 34)
    value_w = (free_width((name_w, 11, 4, 6), 2)) // 2
    widths = (name_w, value_w, value_w, 11, 4, 6)
    lines.extend(table(headers, [], widths))
    for check in checks:
        state = check_state(check)
        values = (check.expected, check.actual, check.discrepancy)
        fits = all(len(printable(v)) <= w for v, w in zip(values, widths[1:4], strict=True))
        row = (check.check, *(values if fits else ("", "", "")), check.severity, state)
        lines.extend(table(headers, [row], widths, frozenset({1, 2, 3}))[2:])
        if not fits:
            lines.extend(_values_below(values))
        if state != "PASS":
            for detail in check.details:
                lines.extend(indented(detail, "      - "))
    return lines + _proofs(checks)


def _proofs(checks: list[CheckResult]) -> list[str]:
    """Which kind of proof each check used, as a paragraph per kind (a column would take
    the width the values need)."""
    kinds: dict[str, list[str]] = {}
    for check in checks:
        if check.proof:
            kinds.setdefault(check.proof, []).append(check.check)
    if not kinds:
        return []
    lines = ["", *indented(PROOF_LEGEND, "  ")]
    for kind, names in kinds.items():
        lines.extend(indented(f"{kind}: {', '.join(names)}", "    "))
    return lines


def _values_below(values: tuple[str, str, str]) -> list[str]:
    """Values too long for their columns, each on a line of its own, right-aligned on one
    edge: wrapped inside a column, the digits where two totals differ would fall onto
    another line than the ones a reader compares."""
    width = min(max(len(printable(v)) for v in values), WIDTH - 20)
    lines = []
    for label, value in zip(("expected", "actual", "discrepancy"), values, strict=True):
        for part in wrap(value, width) if value else []:
            lines.append(f"      {label:<12}{part:>{width}}")
            label = ""
    return lines


def _rejects(report: ReconciliationReport) -> list[str]:
    if not report.rejects:
        return ["Rejects", "  No records rejected."]
    lines = ["Rejects (grouped by reason and field)"]
    headers, widths = ("Reason", "Field", "Count"), (50, 28, 14)
    lines.extend(table(headers, [], widths))
    for group in report.rejects:
        lines.extend(table(headers, [(group.reason, group.field, fmt_int(group.count))],
                           widths, frozenset({2}))[2:])
        for sample in group.samples:
            where = (f"      record {fmt_int(sample.record_no)} at byte "
                     f"{fmt_int(sample.byte_offset)}, field {sample.field}:")
            lines.extend(indented(where.strip(), "      "))
            lines.extend(indented(sample.raw_hex or "-", "        hex "))
    return lines


def _history(report: ReconciliationReport) -> list[str]:
    lines = ["History (earlier runs of this job, oldest first)"]
    if not report.history:
        lines.append("  No earlier runs of this job.")
    else:
        runs = chronological(report.history)
        rows = [(h.run_id, h.started_at, h.status, fmt_int(h.loaded), fmt_int(h.rejected),
                 fmt_duration(h.elapsed_s)) for h in runs]
        headers = ("Run id", "Started", "Status", "Loaded", "Rejected", "Elapsed")
        fixed = (20, 9, 11, 8, 11)
        id_w = min(fit([h.run_id for h in runs], "Run id", 30), free_width(fixed, 1))
        lines.extend(table(headers, rows, (id_w, *fixed), frozenset({3, 4})))
    if report.history_stats:
        lines.append("")
        rows = [(s.metric, fmt_float(s.today, 2), fmt_float(s.minimum, 2),
                 fmt_float(s.mean, 2), fmt_float(s.maximum, 2),
                 "** OUTSIDE **" if s.flagged else "ok") for s in report.history_stats]
        headers = ("Metric", "Today", "Min", "Mean", "Max", "Flag")
        lines.extend(table(headers, rows, (12, 15, 15, 15, 15, 13), frozenset(range(1, 5))))
    return lines


def _notes(report: ReconciliationReport) -> list[str]:
    if not report.notes:
        return []
    return ["Notes", *(line for note in report.notes for line in indented(note, "  "))]


def _restart(report: ReconciliationReport) -> list[str]:
    if not report.restart_hint:
        return []
    return ["Next (the run did not complete)", *indented(report.restart_hint, "  ")]
