"""The HTML report: self-contained, escaped, with both charts and the same content as text."""

from __future__ import annotations

import dataclasses
import re

from mfpipe.report import render_html
from mfpipe.report._common import fmt_int
from mfpipe.report.html import page_title
from tests.report.dom import parse
from tests.report.reports import FAILED_DETAILS, HOSTILE, IMG_ONERROR, SCRIPT_ALERT


class TestHtmlStructure:
    def test_parses_as_html5_with_title_naming_the_run(self, full_report):
        """The page has a doctype, one <title> naming the run id, and balanced sections."""
        page = render_html(full_report)
        assert page.startswith("<!DOCTYPE html>")
        dom = parse(page)
        assert dom.tags["title"] >= 1 and full_report.run.run_id in dom.title
        assert dom.title == page_title(full_report)
        assert dom.tags["html"] == dom.tags["head"] == dom.tags["body"] == 1

    def test_verdict_comes_first(self, full_report):
        """The verdict box precedes every section and names the failed check."""
        page = render_html(full_report)
        assert page.index('id="verdict"') < page.index("<section")
        verdict = page[page.index('id="verdict"'):page.index("</div>")]
        assert "NOT RECONCILED" in verdict and "final_rows_match" in verdict
        assert "verdict-bad" in verdict

    def test_clean_run_has_good_verdict(self, clean_report):
        """A reconciled run gets the RECONCILED verdict with the good style."""
        page = render_html(clean_report)
        assert 'class="verdict verdict-ok">RECONCILED</div>' in page

    def test_failed_checks_are_styled_apart(self, full_report):
        """Failed, warned and passed check rows carry distinct classes; details follow."""
        dom = parse(render_html(full_report))
        assert dom.classes["check-fail"] == 1
        assert dom.classes["check-warn"] == 1
        assert dom.classes["check-pass"] == 3
        for detail in FAILED_DETAILS:
            assert detail in dom.all_text

    def test_charts_have_one_bar_per_item(self, full_report):
        """The worker chart has a rect per worker; the history chart one per run plus today."""
        dom = parse(render_html(full_report))
        assert dom.rects["worker-chart"] == len(full_report.workers)
        assert dom.rects["history-chart"] == len(full_report.history) + 1
        assert dom.classes["bar-highlight"] == 1

    def test_same_content_as_text(self, full_report):
        """Counters, checks, reject reasons, samples, history and restart hint all appear."""
        text = parse(render_html(full_report)).all_text
        counts = full_report.counts
        for value in (counts.read, counts.loaded, counts.rejected, counts.final):
            assert fmt_int(value) in text
        names = [c.check for c in full_report.checks] + [g.reason for g in full_report.rejects]
        samples = [s.raw_hex for g in full_report.rejects for s in g.samples]
        runs = [h.run_id for h in full_report.history]
        for value in [*names, *samples, *runs, full_report.restart_hint]:
            assert value in text

    def test_minimal_report_renders_notes_not_charts(self, minimal_report):
        """Empty lists give short notes and no charts."""
        page = render_html(minimal_report)
        dom = parse(page)
        assert dom.tags["svg"] == 0
        for note in ("No worker statistics recorded.", "No checks ran",
                     "No records rejected.", "No earlier runs of this job."):
            assert note in dom.all_text

    def test_nan_throughput_does_not_break_the_chart(self, full_report):
        """A NaN or zero records/s draws an empty bar labelled n/a instead of failing."""
        workers = [dataclasses.replace(w, records_per_s=v)
                   for w, v in zip(full_report.workers, (float("nan"), 0.0, 10.0))]
        dom = parse(render_html(dataclasses.replace(full_report, workers=workers)))
        assert dom.rects["worker-chart"] == 3 and "n/a rec/s" in dom.all_text


class TestHtmlSelfContained:
    def test_no_external_references(self, full_report):
        """No http(s) URL appears anywhere, and no src/href/link/script/import exists."""
        page = render_html(full_report)
        assert not re.search(r"https?://", page)
        assert not re.search(r"\b(src|href)\s*=", page, re.IGNORECASE)
        assert "@import" not in page and "url(" not in page
        dom = parse(page)
        assert dom.tags["script"] == dom.tags["link"] == dom.tags["img"] == 0

    def test_content_security_policy_forbids_everything_else(self, full_report):
        """The page's CSP allows inline style only: no script, no fetch."""
        page = render_html(full_report)
        assert "default-src &#x27;none&#x27;" in page


class TestHtmlEscaping:
    def test_injected_markup_appears_only_escaped(self, hostile_report):
        """Script and img markup in job, detail, reject field and hex stay inert text."""
        page = render_html(hostile_report)
        for raw in ("<script", "<img", "onerror=alert(1)>"):
            assert raw not in page
        dom = parse(page)
        assert dom.tags["script"] == dom.tags["img"] == 0
        assert not any(name.startswith("on") for _, name, _ in dom.attrs)
        # job (title, h1, run), check detail, reject field, sample field, sample hex
        assert dom.all_text.count(HOSTILE) >= 6
        assert SCRIPT_ALERT in dom.all_text and IMG_ONERROR in dom.all_text

    def test_quotes_in_attributes_are_escaped(self, full_report):
        """A run id with quotes cannot break out of the chart tooltip or any attribute."""
        report = dataclasses.replace(full_report, run=dataclasses.replace(
            full_report.run, run_id='x" onmouseover="alert(1)'))
        dom = parse(render_html(report))
        assert not any(name.startswith("on") for _, name, _ in dom.attrs)
