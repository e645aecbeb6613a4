"""Helpers for tests: the repository root and inline copybooks."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("MFPIPE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def copybook(body: str) -> str:
    """A fixed-format copybook from an indented snippet: code starts in column 8."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return "\n".join(("       " + line) if line.strip() else "" for line in lines) + "\n"
