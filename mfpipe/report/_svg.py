"""Inline SVG bar charts for the HTML report: no library, no script, no external asset.

Bars are horizontal so that labels of any length (worker ids, run ids) have room; labels
longer than the label column are shortened in the chart only, with the full text in the
bar's ``<title>`` tooltip and in the table beside the chart. Exactly one ``<rect>`` is drawn
per bar, so the charts can be checked by counting rectangles.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import NamedTuple

from mfpipe.report._common import bar_value, printable

_ROW = 26  # pixels per bar
_BAR = 18
_LABEL_W = 190  # label column
_PLOT_W = 560  # longest bar
_VALUE_W = 150  # value text after the bar
_TOP = 8
_LABEL_CHARS = 26


class Bar(NamedTuple):
    """One bar: its label, the value it draws, how the value reads, and a tooltip."""

    label: str
    value: float
    value_text: str
    tooltip: str
    highlight: bool = False


def _e(value: object) -> str:
    return html.escape(printable(value), quote=True)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[:_LABEL_CHARS - 1] + "\u2026"


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar]) -> str:
    """An ``<svg id=chart_id>`` with one labelled horizontal bar per item, scaled to the max."""
    peak = max((bar_value(bar.value) for bar in bars), default=0.0)
    width = _LABEL_W + _PLOT_W + _VALUE_W
    height = _TOP * 2 + _ROW * len(bars)
    parts = [(f'<svg id="{_e(chart_id)}" class="chart" '
             f'role="img" aria-labelledby="{_e(chart_id)}-title" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'),
             f'<title id="{_e(chart_id)}-title">{_e(title)}</title>']
    for index, bar in enumerate(bars):
        parts.append(_bar(index, bar, peak))
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(index: int, bar: Bar, peak: float) -> str:
    y = _TOP + index * _ROW
    length = _PLOT_W * bar_value(bar.value) / peak if peak else 0.0
    mid = y + _BAR / 2
    css = "bar bar-highlight" if bar.highlight else "bar"
    return (f'<g class="{css}"><title>{_e(bar.tooltip)}</title>'
            f'<text class="bar-label" x="{_LABEL_W - 8}" y="{mid:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{_e(_short(bar.label))}</text>'
            f'<rect class="bar-rect" x="{_LABEL_W}" y="{y}" width="{length:.1f}" '
            f'height="{_BAR}" rx="2"/>'
            f'<text class="bar-value" x="{_LABEL_W + length + 6:.1f}" y="{mid:.1f}" '
            f'dominant-baseline="middle">{_e(bar.value_text)}</text></g>')
