"""The JSON report: the model's versioned form, parseable and complete."""

from __future__ import annotations

import json

from mfpipe.recon.model import REPORT_SCHEMA_VERSION, CheckResult
from mfpipe.report import render_json


class TestJsonReport:
    def test_parses_with_schema_version_and_summary(self, full_report):
        """The output parses and carries schema_version, passed and failed."""
        data = json.loads(render_json(full_report))
        assert data["schema_version"] == REPORT_SCHEMA_VERSION
        assert data["passed"] is False
        assert data["failed"] == ["final_rows_match"]
        assert data["warnings"] == ["reject_rate"]

    def test_round_trips_every_check(self, full_report):
        """Each check comes back equal to the one rendered, details included."""
        data = json.loads(render_json(full_report))
        checks = [CheckResult(**{**c, "details": tuple(c["details"])}) for c in data["checks"]]
        assert checks == full_report.checks

    def test_minimal_report_renders(self, minimal_report):
        """A report with empty lists renders them as empty arrays."""
        data = json.loads(render_json(minimal_report))
        assert data["checks"] == data["workers"] == data["rejects"] == data["history"] == []

    def test_hostile_text_survives_verbatim(self, hostile_report):
        """JSON carries data unchanged: escaping is the HTML renderer's job, not JSON's."""
        assert json.loads(render_json(hostile_report))["run"]["job"] == hostile_report.run.job

    def test_checks_stay_a_list(self, full_report):
        """The checks are a list of objects, not the summary's count of them."""
        checks = json.loads(render_json(full_report))["checks"]
        assert isinstance(checks, list) and len(checks) == len(full_report.checks)
