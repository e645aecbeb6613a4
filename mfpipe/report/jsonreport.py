"""The JSON report: the model's versioned ``to_json()`` form, for machines and archives.

Named ``jsonreport`` so that it never shadows the standard library's ``json`` module.
``default=str`` keeps a report renderable even if a value ever arrives as a date or a
Decimal instead of the plain data the model promises.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from mfpipe.recon.model import ReconciliationReport

__all__ = ["render_json"]


def render_json(report: ReconciliationReport) -> str:
    """The report as indented JSON, keys in the model's order."""
    return json.dumps(_with_checks(report), indent=2, sort_keys=False, default=str)


def _with_checks(report: ReconciliationReport) -> dict[str, Any]:
    """``report.to_json()``, with the list of checks restored if the model replaced it.

    ``to_json`` merges ``summary()`` after ``asdict``, and ``summary()["checks"]`` is the
    number of checks, so the list of checks (the proof itself) was overwritten by a count.
    Until the model keeps the list, put it back in place; the count is ``len(checks)``.
    """
    data = report.to_json()
    if not isinstance(data.get("checks"), list):
        data["checks"] = [dataclasses.asdict(check) for check in report.checks]
    return data
