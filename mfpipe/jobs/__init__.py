"""Nightly operations: job files, loading files through their claims, restart, reprocess."""

from mfpipe.jobs.load import load_file

__all__ = ["load_file"]
