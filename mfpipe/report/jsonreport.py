"""The JSON report: the model's versioned ``to_json()`` form, for machines and archives.

Named ``jsonreport`` so that it never shadows the standard library's ``json`` module.
``default=str`` keeps a report renderable even if a value ever arrives as a date or a
Decimal instead of the plain data the model promises.
"""

from __future__ import annotations

import json

from mfpipe.recon.model import ReconciliationReport

__all__ = ["render_json"]


def render_json(report: ReconciliationReport) -> str:
    """The report as indented JSON, keys in the model's order."""
    return json.dumps(report.to_json(), indent=2, sort_keys=False, default=str)
