"""Helpers for tests: the repository root and inline copybooks."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("MFPIPE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def copybook(body: str) -> str:
    """A fixed-format copybook from an indented snippet: code starts in column 8."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return "\n".join(("       " + line) if line.strip() else "" for line in lines) + "\n"


def query(db_url: str, sql: str) -> list[tuple]:
    """The rows of a query on the database (a test's look at what was loaded)."""
    import sqlalchemy as sa

    from mfpipe.db.runs import RunStore

    store = RunStore(db_url)
    with store.engine.connect() as c:
        rows = [tuple(r) for r in c.execute(sa.text(sql))]
    store.close()
    return rows


def wait_for_commits(db_url: str, count: int, timeout: float = 60) -> None:
    """Wait until the database's ledger holds ``count`` committed chunks (of any run)."""
    import sqlalchemy as sa

    from mfpipe.db.runs import RunStore

    engine = sa.create_engine(RunStore(db_url).engine.url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as c:
                    if c.execute(sa.text("SELECT count(*) FROM mfp_chunk")).scalar_one() >= count:
                        return
            except sa.exc.DatabaseError:
                pass  # the table does not exist yet
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise AssertionError(f"no {count} chunks committed within {timeout} s")
