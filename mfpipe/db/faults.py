"""A database that goes away (a server restart, an outage, a killed session): recognised in
one place, retried with one policy, and reported as temporary (exit 75) once the retries are
spent, so a launcher never ends with an internal error and a run never stays STARTED."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
import tenacity

from mfpipe.db import dialects
from mfpipe.db.urls import redact
from mfpipe.errors import DatabaseUnavailableError, first_line

T = TypeVar("T")


def connection_lost(exc: BaseException) -> bool:
    """Is ``exc`` the database going away (or refusing writes for now: switched to read
    only, as each dialect recognises its driver's error), rather than a statement's own
    error?"""
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    return bool(exc.connection_invalidated) or exc.orig is not None and any(
        dialect.refuses_writes(exc.orig) for dialect in dialects.every())


def unavailable(url: str, exc: BaseException) -> DatabaseUnavailableError:
    """The temporary error (75) a lost connection becomes, naming the database (redacted)."""
    orig = getattr(exc, "orig", None)
    return DatabaseUnavailableError(f"{redact(url)}: {first_line(orig or exc)}")


def retried(work: Callable[[], T], retry_s: float) -> T:
    """``work()``, again while the database is away, for up to ``retry_s`` seconds (with
    backoff); the last lost connection is raised as it was."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(connection_lost),
        wait=tenacity.wait_exponential(multiplier=0.2, max=5),
        stop=tenacity.stop_after_delay(retry_s), reraise=True)(work)
