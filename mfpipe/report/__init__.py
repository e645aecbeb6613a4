"""Operator reports: one ``ReconciliationReport`` rendered as text, HTML or JSON.

Operators sign off the nightly load on these reports. All three renderings read the same
model (``mfpipe.recon.model``) and the text and HTML forms share one verdict, so they
cannot disagree about a run. This package imports only ``mfpipe.recon`` and the standard
library; the command line chooses a format with :func:`render`. The console's pages embed
the HTML report's sections (:func:`report_sections`, styled by ``REPORT_CSS``) and draw
their charts with :func:`bar_chart`.
"""

from __future__ import annotations

from collections.abc import Callable

from mfpipe.recon.model import ReconciliationReport
from mfpipe.report._style import CSS as REPORT_CSS
from mfpipe.report._svg import Bar, bar_chart
from mfpipe.report.html import render_html, report_sections
from mfpipe.report.jsonreport import render_json
from mfpipe.report.text import render_text

__all__ = ["FORMATS", "REPORT_CSS", "Bar", "bar_chart", "render", "render_html", "render_json",
           "render_text", "report_sections"]

FORMATS = ("text", "html", "json")

_RENDERERS: dict[str, Callable[[ReconciliationReport], str]] = {
    "text": render_text, "html": render_html, "json": render_json}


def render(report: ReconciliationReport, fmt: str) -> str:
    """The report in format ``fmt`` (one of ``FORMATS``); ValueError for any other."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}"
                         ) from None
    return renderer(report)
