"""The plain-text report: every counter, check, detail, reject and the verdict, in 100 columns."""

from __future__ import annotations

import dataclasses

from mfpipe.recon.model import CheckResult
from mfpipe.report import render_html, render_text
from mfpipe.report._common import fmt_int
from tests.report.reports import FAILED_DETAILS, WARN_DETAILS


class TestTextContent:
    def test_every_counter_appears(self, full_report):
        """Read, loaded, rejected, discarded and final counts appear, formatted as read."""
        text = render_text(full_report)
        for label, value in [("read:", 1_250_000), ("loaded:", 1_249_988), ("rejected:", 12),
                             ("discarded:", 0), ("(this run):", 1_249_980)]:
            line = next(line for line in text.splitlines() if label in line)
            assert line.rstrip().endswith(fmt_int(value)), line
        assert "Elapsed time was:" in text and "00:00:24.37" in text
        assert "CPU time was:" in text and "00:01:01.90" in text

    def test_run_header_appears(self, full_report):
        """Run id, job, file, database, status, exit code and message are in the header."""
        text = render_text(full_report)
        run = full_report.run
        for value in (run.run_id, run.job, run.file, run.database, run.status, run.message):
            assert value in text
        assert "Exit code     : 65" in text

    def test_every_worker_appears(self, full_report):
        """Each worker's read, loaded, rejected, chunks and records/s are on its row."""
        lines = render_text(full_report).splitlines()
        for worker in full_report.workers:
            row = next(line for line in lines if line.split()[:1] == [str(worker.worker_id)]
                       and fmt_int(worker.read) in line)
            assert row.split()[1:] == [fmt_int(worker.read), fmt_int(worker.loaded),
                                       fmt_int(worker.rejected), fmt_int(worker.chunks),
                                       f"{worker.records_per_s:,.1f}"]

    def test_checks_and_failed_details_appear(self, full_report):
        """Every check name appears with its state, and failed checks' details follow them."""
        text = render_text(full_report)
        for check in full_report.checks:
            assert check.check in text
        lines = text.splitlines()
        fail_row = next(i for i, line in enumerate(lines) if "final_rows_match" in line
                        and line.rstrip().endswith("FAIL"))
        assert [line.strip() for line in lines[fail_row + 1:fail_row + 3]] == [
            f"- {detail}" for detail in FAILED_DETAILS]
        warn_row = next(i for i, line in enumerate(lines) if line.rstrip().endswith("WARN"))
        assert lines[warn_row + 1].strip() == f"- {WARN_DETAILS[0]}"

    def test_rejects_grouped_with_samples(self, full_report):
        """Each reject group shows reason, field and count, and each sample its hex."""
        text = render_text(full_report)
        for group in full_report.rejects:
            row = next(line for line in text.splitlines() if group.reason in line)
            assert group.field in row and row.rstrip().endswith(fmt_int(group.count))
            for sample in group.samples:
                assert f"record {fmt_int(sample.record_no)} at byte " \
                       f"{fmt_int(sample.byte_offset)}" in text
                assert f"hex {sample.raw_hex}" in text

    def test_history_and_flagged_stat(self, full_report):
        """Every earlier run is listed and only the flagged stat is marked OUTSIDE."""
        text = render_text(full_report)
        for entry in full_report.history:
            assert entry.run_id in text
        marked = [line.split()[0] for line in text.splitlines() if "OUTSIDE" in line]
        assert marked == [s.metric for s in full_report.history_stats if s.flagged]

    def test_restart_hint_appears(self, full_report):
        """The restart command is printed whole."""
        assert full_report.restart_hint in render_text(full_report)


class TestTextVerdict:
    def test_failed_run_is_not_reconciled(self, full_report):
        """The verdict names the failed check and the warning, first and last."""
        lines = render_text(full_report).splitlines()
        verdicts = [line for line in lines if line.startswith("VERDICT:")]
        assert len(verdicts) == 2 and verdicts[0] == verdicts[1]
        assert verdicts[0].startswith("VERDICT: NOT RECONCILED")
        assert "failed: final_rows_match" in verdicts[0]
        assert "warnings: reject_rate" in verdicts[0]

    def test_clean_run_is_reconciled(self, clean_report):
        """A completed run whose checks all passed is RECONCILED."""
        assert "VERDICT: RECONCILED\n" in render_text(clean_report)

    def test_warnings_are_never_a_plain_green(self, clean_report):
        """A warn-severity check that found something (29% of rows breaking a warn rule)
        gives its own verdict, naming it, in the text, the HTML and the JSON."""
        warned = CheckResult("rule_range_rate", "rule_range", "0", "290", False, "warn", "290")
        report = dataclasses.replace(clean_report, checks=[*clean_report.checks, warned])
        assert ("VERDICT: RECONCILED WITH WARNINGS - warnings: rule_range_rate"
                in render_text(report))
        assert 'class="verdict verdict-warn">RECONCILED WITH WARNINGS' in render_html(report)
        assert report.to_json()["verdict"] == "RECONCILED WITH WARNINGS"

    def test_no_checks_is_not_reconciled(self, minimal_report):
        """A run with no checks is not called reconciled: nothing was compared."""
        assert "VERDICT: NOT RECONCILED - no checks ran" in render_text(minimal_report)

    def test_incomplete_run_is_not_reconciled(self, clean_report):
        """Passing checks do not reconcile a run that did not complete."""
        report = dataclasses.replace(
            clean_report, run=dataclasses.replace(clean_report.run, status="STOPPED"))
        assert "NOT RECONCILED - run status STOPPED" in render_text(report)


class TestTextLayout:
    def test_lines_fit_100_columns(self, full_report, hostile_report):
        """No line is wider than 100 columns, even with long values."""
        long_report = dataclasses.replace(full_report, run=dataclasses.replace(
            full_report.run, file="/very/long/" + "x" * 300, message="word " * 80))
        for report in (full_report, hostile_report, long_report):
            assert max(len(line) for line in render_text(report).splitlines()) <= 100

    def test_long_values_wrap_rather_than_truncate(self, full_report):
        """A 300-character file name is printed whole, wrapped over several lines."""
        name = "/very/long/" + "x" * 300
        report = dataclasses.replace(full_report,
                                     run=dataclasses.replace(full_report.run, file=name))
        assert "x" * 300 in "".join(line.strip() for line in render_text(report).splitlines())

    def test_control_characters_cannot_forge_lines(self, full_report):
        """A newline or escape in data shows as an escape, never as a new report line."""
        report = dataclasses.replace(full_report, run=dataclasses.replace(
            full_report.run, message="ok\nVERDICT: RECONCILED\x1b[2J"))
        text = render_text(report)
        assert "\x1b" not in text
        assert r"ok\nVERDICT: RECONCILED\x1b[2J" in text
        assert not any(line.startswith("VERDICT: RECONCILED") for line in text.splitlines())

    def test_minimal_report_renders(self, minimal_report):
        """A report with no workers, checks, rejects or history renders with short notes."""
        text = render_text(minimal_report)
        for note in ("No worker statistics recorded.", "No checks ran", "No records rejected.",
                     "No earlier runs of this job."):
            assert note in text
        assert "Restart" not in text


class TestLongValues:
    def test_long_totals_line_up_on_lines_of_their_own(self, clean_report):
        """Totals too long for their columns are written below the check, each whole on
        one line and right-aligned, so the digits that differ sit one above the other."""
        expected, actual = "12345678901234567890123456.78", "12345678901234567890123457.78"
        check = CheckResult("total_balance_final", "control_total", expected, actual, False,
                            discrepancy="1.00")
        report = dataclasses.replace(clean_report, checks=[check])
        lines = render_text(report).splitlines()
        shown = [line for line in lines if line.strip().startswith(("expected", "actual"))]
        assert [line.split()[-1] for line in shown] == [expected, actual]
        assert len({len(line) for line in shown}) == 1  # the same right edge
