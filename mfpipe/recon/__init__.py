"""Reconciliation: proof that the file, staging and final tables agree."""

from mfpipe.recon.counts import count_checks
from mfpipe.recon.model import CheckResult, Reconciliation

__all__ = ["CheckResult", "Reconciliation", "count_checks"]
