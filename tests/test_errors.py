"""Errors turned into one operator line."""

from __future__ import annotations

import pytest

from mfpipe.errors import (ChunkProofError, ClusterUnavailableError, DatabaseUnavailableError,
                           LoadError, RunError, TransientLoadError, first_line)


def test_first_line_of_a_driver_error():
    """Only the first line of a driver's message (SQL and hints follow below it)."""
    assert first_line(RuntimeError("integer overflow\n[SQL: SELECT ...]")) == "integer overflow"


def test_an_error_that_says_nothing_is_named_by_its_type():
    """An empty message gives the type's name, never an empty line (or an IndexError)."""
    assert first_line(ConnectionError("  ")) == "ConnectionError"


@pytest.mark.parametrize("error", [
    LoadError("stg_t", 3, "refused", "INSERT ...", "(1, 'a')"),
    TransientLoadError("stg_t", 3, "connection lost"),
    ChunkProofError("stg_t", 2, 1, 1001, 2000, "1 rows found, 2 written"),
    RunError("r1", "stopped", 143), DatabaseUnavailableError("db: gone"),
    ClusterUnavailableError("scheduler tcp://h:8786: refused"),
], ids=lambda e: type(e).__name__)
def test_an_error_crosses_processes_as_it_was(error):
    """An error pickled to another process (a Dask task's, a writer's) arrives with its
    type, message and exit code."""
    import pickle

    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.exit_code) == (type(error), str(error),
                                                          error.exit_code)
