"""Errors turned into one operator line."""

from __future__ import annotations

from mfpipe.errors import first_line


def test_first_line_of_a_driver_error():
    """Only the first line of a driver's message (SQL and hints follow below it)."""
    assert first_line(RuntimeError("integer overflow\n[SQL: SELECT ...]")) == "integer overflow"


def test_an_error_that_says_nothing_is_named_by_its_type():
    """An empty message gives the type's name, never an empty line (or an IndexError)."""
    assert first_line(ConnectionError("  ")) == "ConnectionError"
