"""The HTML operator report: one self-contained HTML5 page, safe to open from any mailbox.

It carries the same content as the text report plus two inline SVG charts. Every value
from the run (file names, messages, rejected bytes, check details) passes through
``_e`` (``html.escape(..., quote=True)``): mainframe data and operator input are untrusted,
and a report that ran a script found in a record would be worse than no report. The page
references nothing outside itself and its Content-Security-Policy forbids scripts.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

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
from mfpipe.report._style import CSP, CSS
from mfpipe.report._svg import Bar, bar_chart

__all__ = ["page_title", "render_html"]


def _e(value: object) -> str:
    """Escaped text: control characters shown as escapes, then HTML-escaped, quotes too."""
    return html.escape(printable(value), quote=True)


def page_title(report: ReconciliationReport) -> str:
    """The page's ``<title>`` text (unescaped): it names the run and the job."""
    return f"mfpipe reconciliation - run {report.run.run_id} - job {report.run.job}"


def render_html(report: ReconciliationReport) -> str:
    """The whole report as an HTML5 document."""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(page_title(report))}</title>", f"<style>{CSS}</style>", "</head>",
        "<body>", report_sections(report), "</body>", "</html>", ""])


def report_sections(report: ReconciliationReport) -> str:
    """The report's sections (escaped HTML, no script), for a page of its own or for the
    console's run page; styled by ``mfpipe.report._style.CSS``."""
    body = [_verdict(report), _run(report), _counts(report), _attempts(report),
            _workers(report),
            _checks(report), _rejects(report), _history(report), _restart(report),
            _notes(report),
            f"<footer>Generated {_e(report.generated_at or '-')} by mfpipe.</footer>"]
    return "\n".join(part for part in body if part)


def _table(headers: Sequence[str], rows: Iterable[str], css: str = "") -> str:
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    class_attr = f' class="{css}"' if css else ""
    return (f"<table{class_attr}><thead><tr>{head}</tr></thead><tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>")


def _td(value: object, num: bool = False) -> str:
    return f'<td class="num">{_e(value)}</td>' if num else f"<td>{_e(value)}</td>"


def _verdict(report: ReconciliationReport) -> str:
    result = verdict(report)
    css = ("verdict-bad" if not result.reconciled else
           "verdict-warn" if result.warnings else "verdict-ok")
    items = [f"<li>{_e(reason)}</li>" for reason in result.reasons]
    if result.warnings:
        items.append(f"<li>warnings: {_e(', '.join(result.warnings))}</li>")
    listing = f"<ul>{''.join(items)}</ul>" if items else ""
    return (f"<h1>{_e(page_title(report))}</h1>\n"
            f'<div id="verdict" class="verdict {css}">{_e(result.headline)}{listing}</div>')


def _run(report: ReconciliationReport) -> str:
    run = report.run
    rows = [("Run id", run.run_id), ("Job", run.job), ("File", run.file),
            ("Database", run.database), ("Staging table", run.staging_table),
            ("Final table", run.final_table), ("Status", run.status),
            ("Exit code", "-" if run.exit_code is None else run.exit_code),
            ("Message", run.message), ("Started", run.started_at), ("Ended", run.ended_at)]
    items = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value if str(value) else '-')}</dd>"
                    for label, value in rows)
    return f'<section id="run"><h2>Run</h2><dl class="run">{items}</dl></section>'


def _counts(report: ReconciliationReport) -> str:
    counts, run = report.counts, report.run
    rows = [("Total logical records skipped", fmt_int(counts.skipped)),
            ("Total logical records read", fmt_int(counts.read)),
            ("Total logical records loaded", fmt_int(counts.loaded)),
            ("Total logical records rejected", fmt_int(counts.rejected)),
            ("Total logical records discarded", fmt_int(counts.discarded)),
            ("Rows in the final table (this run)", fmt_int(counts.final)),
            ("Elapsed time", fmt_duration(run.elapsed_s)),
            ("CPU time", fmt_duration(run.cpu_s))]
    rows += [(f"Invalid numerics loaded as NULL: {column}", fmt_int(n))
             for column, n in counts.nulled.items()]
    table = _table(("Counter", "Value"),
                   (f"<tr>{_td(label)}{_td(value, num=True)}</tr>" for label, value in rows))
    return f'<section id="counts"><h2>Counts</h2>{table}</section>'


def _attempts(report: ReconciliationReport) -> str:
    if not report.attempts:
        return ""
    rows = (f"<tr>{_td(a.attempt, True)}{_td(a.command)}{_td(a.started_at)}{_td(a.status)}"
            f"{_td('-' if a.exit_code is None else a.exit_code, True)}"
            f"{_td(fmt_int(a.records_loaded), True)}{_td(fmt_duration(a.elapsed_s), True)}"
            f"{_td(fmt_duration(a.load_s), True)}{_td(fmt_duration(a.publish_s), True)}"
            f"{_td(fmt_duration(a.cpu_s), True)}</tr>" for a in report.attempts)
    table = _table(("#", "Command", "Started", "Status", "Exit", "Loaded", "Elapsed", "Load",
                    "Publish", "CPU"), rows)
    return f'<section id="attempts"><h2>Attempts</h2>{table}</section>'


def _workers(report: ReconciliationReport) -> str:
    if not report.workers:
        return ('<section id="workers"><h2>Workers</h2>'
                '<p class="empty">No worker statistics recorded.</p></section>')
    bars = [Bar(f"worker {w.worker_id}", w.records_per_s, f"{fmt_float(w.records_per_s)} rec/s",
                f"worker {w.worker_id}: {fmt_float(w.records_per_s)} records/s, "
                f"{fmt_int(w.loaded)} loaded") for w in report.workers]
    chart = bar_chart("worker-chart", "Throughput per worker (records/s)", bars)
    rows = (f"<tr>{_td(w.worker_id, True)}{_td(fmt_int(w.read), True)}"
            f"{_td(fmt_int(w.loaded), True)}{_td(fmt_int(w.rejected), True)}"
            f"{_td(fmt_int(w.chunks), True)}{_td(fmt_float(w.records_per_s), True)}</tr>"
            for w in report.workers)
    table = _table(("Worker", "Read", "Loaded", "Rejected", "Chunks", "Records/s"), rows)
    return ('<section id="workers"><h2>Workers</h2>'
            f'<p class="caption">Throughput per worker, records/s.</p>{chart}\n{table}</section>')


def _checks(report: ReconciliationReport) -> str:
    if not report.checks:
        return ('<section id="checks"><h2>Checks</h2>'
                '<p class="empty">No checks ran: nothing was compared.</p></section>')
    passed = sum(check.passed for check in report.checks)
    heading = (f"Checks ({len(report.checks)} run, {passed} passed, {len(report.failed)} "
               f"failed, {len(report.warnings)} warned)")
    headers = ("Check", "Type", "Expected", "Actual", "Discrepancy", "Severity", "Proof",
               "Result")
    table = _table(headers, (_check_rows(check) for check in report.checks), "checks")
    legend = (f'<p class="caption">{_e(PROOF_LEGEND)}</p>'
              if any(check.proof for check in report.checks) else "")
    return f'<section id="checks"><h2>{_e(heading)}</h2>{table}{legend}</section>'


def _check_rows(check: CheckResult) -> str:
    state = check_state(check)
    row = (f'<tr class="check check-{state.lower()}">{_td(check.check)}{_td(check.type)}'
           f"{_td(check.expected, True)}{_td(check.actual, True)}"
           f"{_td(check.discrepancy, True)}{_td(check.severity)}{_td(check.proof)}"
           f'<td class="state">{_e(state)}</td></tr>')
    if state == "PASS" or not check.details:
        return row
    details = "".join(f"<li>{_e(detail)}</li>" for detail in check.details)
    return (f'{row}\n<tr class="details check-{state.lower()}-details">'
            f'<td colspan="8"><ul>{details}</ul></td></tr>')


def _rejects(report: ReconciliationReport) -> str:
    if not report.rejects:
        return ('<section id="rejects"><h2>Rejects</h2>'
                '<p class="empty">No records rejected.</p></section>')
    rows = []
    for group in report.rejects:
        samples = "".join(
            f"<li>record {_e(fmt_int(s.record_no))} at byte {_e(fmt_int(s.byte_offset))}, "
            f'field <code>{_e(s.field)}</code>: <span class="hex">{_e(s.raw_hex or "-")}'
            "</span></li>" for s in group.samples)
        listing = f"<ul>{samples}</ul>" if samples else '<span class="empty">no samples</span>'
        rows.append(f"<tr>{_td(group.reason)}<td><code>{_e(group.field)}</code></td>"
                    f"{_td(fmt_int(group.count), True)}<td>{listing}</td></tr>")
    table = _table(("Reason", "Field", "Count", "Samples (record, byte offset, raw hex)"), rows)
    return f'<section id="rejects"><h2>Rejects</h2>{table}</section>'


def _history(report: ReconciliationReport) -> str:
    parts = ['<section id="history"><h2>History (earlier runs of this job)</h2>']
    if not report.history:
        parts.append('<p class="empty">No earlier runs of this job.</p>')
    else:
        parts.append('<p class="caption">Records loaded per run, oldest first; '
                     "this run highlighted last.</p>")
        parts.append(_history_chart(report))
        rows = (f"<tr>{_td(h.run_id)}{_td(h.started_at)}{_td(h.status)}"
                f"{_td(fmt_int(h.read), True)}{_td(fmt_int(h.loaded), True)}"
                f"{_td(fmt_int(h.rejected), True)}{_td(fmt_duration(h.elapsed_s), True)}</tr>"
                for h in chronological(report.history))
        parts.append(_table(("Run id", "Started", "Status", "Read", "Loaded", "Rejected",
                             "Elapsed"), rows))
    if report.history_stats:
        rows = (f'<tr class="{"flagged" if s.flagged else "ok"}">{_td(s.metric)}'
                f"{_td(fmt_float(s.today, 2), True)}{_td(fmt_float(s.minimum, 2), True)}"
                f"{_td(fmt_float(s.mean, 2), True)}{_td(fmt_float(s.maximum, 2), True)}"
                f"{_td('OUTSIDE the range of earlier runs' if s.flagged else 'ok')}</tr>"
                for s in report.history_stats)
        parts.append("<h3>Today against earlier runs</h3>")
        parts.append(_table(("Metric", "Today", "Min", "Mean", "Max", "Flag"), rows, "stats"))
    parts.append("</section>")
    return "\n".join(parts)


def _history_chart(report: ReconciliationReport) -> str:
    """Records loaded per run, oldest first, this run last and highlighted."""
    runs = [h for h in chronological(report.history) if h.run_id != report.run.run_id]
    bars = [Bar(h.run_id, h.loaded, fmt_int(h.loaded),
                f"{h.run_id} ({h.started_at}, {h.status}): {fmt_int(h.loaded)} loaded "
                f"in {fmt_duration(h.elapsed_s)}") for h in runs]
    run, loaded = report.run, report.counts.loaded
    bars.append(Bar("this run", loaded, fmt_int(loaded),
                    f"this run {run.run_id} ({run.started_at}, {run.status}): "
                    f"{fmt_int(loaded)} loaded in {fmt_duration(run.elapsed_s)}", True))
    return bar_chart("history-chart", "Records loaded per run, this run highlighted", bars)


def _notes(report: ReconciliationReport) -> str:
    if not report.notes:
        return ""
    items = "".join(f"<li>{_e(note)}</li>" for note in report.notes)
    return f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>'


def _restart(report: ReconciliationReport) -> str:
    if not report.restart_hint:
        return ""
    return ('<section id="restart" class="restart"><h2>Next</h2>'
            "<p>The run did not complete:</p>"
            f"<pre><code>{_e(report.restart_hint)}</code></pre></section>")
