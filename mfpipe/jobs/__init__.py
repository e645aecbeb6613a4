"""Nightly operations: job files, loading files through the registry, restart, reprocess."""

from mfpipe.jobs.load import load_file, promote_and_reconcile, run_load

__all__ = ["load_file", "promote_and_reconcile", "run_load"]
