"""Fixtures shared by the whole suite: the real PostgreSQL server."""

from __future__ import annotations

import pytest

from tests.support import POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the local PostgreSQL server; the test is skipped when it is not reachable."""
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL
