"""The HTML report's inline stylesheet and Content-Security-Policy.

Both are inlined into every page: the report is archived and mailed as one file and opened
on machines without network access, so it may reference nothing outside itself. The policy
forbids every fetch and every script, so even a rendering bug that let markup through
could neither run code nor call out.
"""

from __future__ import annotations

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; background: #fff; margin: 0 auto; max-width: 1100px; padding: 16px 24px; }
h1 { font-size: 20px; margin: 8px 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de;
  padding-bottom: 4px; }
.verdict { padding: 12px 16px; border-radius: 6px; font-weight: 600; font-size: 16px;
  overflow-wrap: anywhere; }
.verdict-ok { background: #dafbe1; border: 2px solid #1a7f37; color: #0f5323; }
.verdict-bad { background: #ffebe9; border: 2px solid #cf222e; color: #82071e; }
.verdict-warn { background: #fff8c5; border: 2px solid #9a6700; color: #633c01; }
.verdict ul { margin: 6px 0 0; font-weight: normal; font-size: 14px; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #f6f8fa; white-space: nowrap; overflow-wrap: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.run dt { font-weight: 600; }
dl.run dd { margin: 0; overflow-wrap: anywhere; }
code, .hex { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 12px; overflow-wrap: anywhere; }
tr.check-fail td { background: #ffebe9; }
tr.check-warn td { background: #fff8c5; }
tr.check-fail td.state { color: #82071e; font-weight: 700; }
tr.check-warn td.state { color: #7d4e00; font-weight: 700; }
tr.check-pass td.state { color: #1a7f37; font-weight: 600; }
tr.details td { background: #fff; border-top: none; border-left: 4px solid #cf222e; }
tr.check-warn-details td { border-left-color: #bf8700; }
td ul { margin: 0; padding-left: 20px; }
tr.flagged td { background: #fff8c5; font-weight: 600; }
.caption { color: #57606a; margin: 4px 0; }
.empty { color: #57606a; font-style: italic; }
.restart pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
svg.chart .bar-rect { fill: #54aeff; }
svg.chart .bar-highlight .bar-rect { fill: #bf8700; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #1f2328; }
svg.chart .bar-highlight text { font-weight: 700; }
footer { margin-top: 32px; color: #57606a; font-size: 12px; }
"""
