"""Logs: JSON lines on stderr when not on a terminal, and never a frame's local variables."""

from __future__ import annotations

import json

import structlog

from mfpipe.logs import configure_logging


def test_tracebacks_leave_out_locals(capsys):
    """An internal error's traceback names files and lines but shows no local variables:
    a frame's locals hold the database URL with its password."""
    configure_logging()

    def connect(url: str) -> None:
        raise RuntimeError("connection refused")

    try:
        connect("postgresql://loader:s3cret@db.bank.example/books")
    except RuntimeError:
        structlog.get_logger().exception("internal error")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["event"] == "internal error" and "connection refused" in line
    assert "s3cret" not in line and '"locals"' not in line
