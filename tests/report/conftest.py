"""Fixtures for the report tests: the reports of tests/report/reports.py."""

from __future__ import annotations

import pytest

from mfpipe.recon.model import ReconciliationReport
from tests.report import reports


@pytest.fixture
def full_report() -> ReconciliationReport:
    """A failed night with workers, checks, rejects, history and a restart hint."""
    return reports.full_report()


@pytest.fixture
def minimal_report() -> ReconciliationReport:
    """A run with no workers, checks, rejects or history."""
    return reports.minimal_report()


@pytest.fixture
def clean_report() -> ReconciliationReport:
    """A completed run whose checks all passed."""
    return reports.clean_report()


@pytest.fixture
def hostile_report() -> ReconciliationReport:
    """The full report with script and img markup in job, detail, reject field and hex."""
    return reports.hostile_report()
