"""Reconciliation: proof that the file, staging and final tables agree."""

from mfpipe.recon.model import CheckResult, ReconciliationReport
from mfpipe.recon.service import ReconciliationService

__all__ = ["CheckResult", "ReconciliationReport", "ReconciliationService"]
