"""Fixtures shared by the whole suite: the real PostgreSQL server, one schema per test."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import pytest

from tests.support import POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the local PostgreSQL server; the test is skipped when it is not reachable."""
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database of each kind: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mfpipe.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def postgres_url(postgres_server):
    """A URL whose search_path is a fresh schema, dropped afterwards: tests never collide."""
    import psycopg

    schema = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    # application_name tags this test's connections, so fault tests kill only their own
    yield (f"{postgres_server}?options={quote(f'-csearch_path={schema}')}"
           f"&application_name={schema}")
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")
