"""The file registry (``mfp_file``) and the lease that lets exactly one launcher load a file.

A launcher claims a file in one serialized transaction: PostgreSQL takes a transaction-level
advisory lock on the path, SQLite ``BEGIN IMMEDIATE`` (the database's write lock), Oracle a
row lock (``SELECT ... FOR UPDATE``; a concurrent first insert fails on the key). Inside it the
registry row says whether the file is held by a live run (refused: exit 75), already loaded
and unchanged (skipped: exit 99), or free; a claim records the claiming run as the owner.

A run is alive while its status is active, its heartbeat is younger than the TTL and, on this
host, its launcher process exists. A dead owner's run is recovered to FAILED on the spot, so
a killed launcher never blocks the next night.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from mfpipe.db.control import mfp_file, mfp_run
from mfpipe.db.runs import ACTIVE, FAILED, RunStore, utcnow

DISCOVERED, PROCESSING, SUCCESS, SKIPPED = "DISCOVERED", "PROCESSING", "SUCCESS", "SKIPPED"
HOST = socket.gethostname()[:100]


@dataclass(frozen=True)
class FileFacts:
    """What identifies a file's content: size, modification time, SHA-256."""

    path: str
    size: int
    mtime: dt.datetime
    sha256: str

    @classmethod
    def stat(cls, path: str) -> FileFacts:
        """Size and modification time only (no checksum yet: the claim computes it)."""
        stat = os.stat(path)
        return cls(os.path.abspath(path), stat.st_size, cls.mtime_of(stat), "")

    @classmethod
    def of(cls, path: str) -> FileFacts:
        """Stat and checksum a file (read once, in 1 MiB blocks)."""
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return cls(os.path.abspath(path), stat.st_size, cls.mtime_of(stat), digest.hexdigest())

    @staticmethod
    def mtime_of(stat: os.stat_result) -> dt.datetime:
        """Modification time as naive UTC, to the microsecond (as every database keeps it)."""
        return dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a file: ``claimed``, ``skip`` (loaded, unchanged) or ``held``."""

    outcome: Literal["claimed", "skip", "held"]
    run_id: str  # held: the live owner; skip: the run that loaded it; claimed: the claimer
    previous_run_id: str | None = None  # the run that last loaded the file, if any


def is_alive(run: Mapping[str, Any] | None, ttl_s: float) -> bool:
    """Is the run's launcher still working (see the module docstring)?"""
    if run is None or run["status"] not in ACTIVE:
        return False
    heartbeat = run["heartbeat_at"]
    if heartbeat is None or utcnow() - heartbeat > dt.timedelta(seconds=ttl_s):
        return False
    return not (run["host"] == HOST and run["pid"] and not _process_exists(run["pid"]))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FileRegistry:
    """Claims, skips and releases files for launchers of one database."""

    def __init__(self, store: RunStore, ttl_s: float = 60.0) -> None:
        self.store = store
        self.ttl_s = ttl_s

    def discover(self, facts: FileFacts) -> None:
        """Record a file a launch has found, if the registry does not know it yet."""
        with self._serialized(facts.path) as c:
            if c.execute(sa.select(mfp_file.c.path).where(mfp_file.c.path == facts.path)
                         ).first() is None:
                c.execute(mfp_file.insert().values(_row(facts, DISCOVERED)))

    def claim(self, facts: FileFacts, run_id: str, reprocess: bool = False) -> Claim:
        """Take the file for ``run_id``, unless a live run holds it or it is already loaded."""
        with self._serialized(facts.path) as c:
            row = c.execute(self._select(facts.path, c)).first()
            if row is not None and row.status == PROCESSING and row.owner_run_id != run_id:
                owner = c.execute(sa.select(mfp_run).where(
                    mfp_run.c.run_id == row.owner_run_id)).mappings().first()
                starting = owner is None and utcnow() - row.updated_at < dt.timedelta(
                    seconds=self.ttl_s)  # claimed a moment ago; its run row is on the way
                if starting or is_alive(owner, self.ttl_s):
                    return Claim("held", row.owner_run_id, row.last_run_id)
                recover(c, row.owner_run_id)
            if (row is not None and row.status in (SUCCESS, SKIPPED) and not reprocess
                    and row.sha256 == facts.sha256):
                c.execute(mfp_file.update().where(mfp_file.c.path == facts.path).values(
                    status=SKIPPED, updated_at=utcnow()))
                return Claim("skip", row.last_run_id or "", row.last_run_id)
            values = {**_row(facts, PROCESSING), "owner_run_id": run_id}
            if row is None:
                c.execute(mfp_file.insert().values(values))
            else:
                c.execute(mfp_file.update().where(mfp_file.c.path == facts.path).values(values))
            return Claim("claimed", run_id, row.last_run_id if row is not None else None)

    def release(self, path: str, run_id: str, status: str, last_run_id: str | None = None
                ) -> None:
        """End ``run_id``'s claim with ``status``; ``last_run_id``: the run whose rows the
        target now holds for the file (kept as it was when None)."""
        values: dict[str, Any] = {"status": status, "owner_run_id": None, "updated_at": utcnow()}
        if last_run_id:
            values["last_run_id"] = last_run_id
        with self.store.engine.begin() as c:
            c.execute(mfp_file.update().where(mfp_file.c.path == path,
                                              mfp_file.c.owner_run_id == run_id).values(values))

    def file(self, path: str) -> Any:
        """The registry row of a path (None when unknown)."""
        with self.store.engine.connect() as c:
            return c.execute(sa.select(mfp_file).where(mfp_file.c.path == path)).first()

    def _select(self, path: str, c: sa.Connection) -> sa.Select:
        query = sa.select(mfp_file).where(mfp_file.c.path == path)
        return query.with_for_update() if c.dialect.name == "oracle" else query

    def _serialized(self, path: str) -> AbstractContextManager[sa.Connection]:
        return serialized(self.store.engine, path)


@contextmanager
def serialized(engine: sa.Engine, path: str) -> Iterator[sa.Connection]:
    """A transaction that no other claimer of the same path runs alongside."""
    with engine.connect() as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif dialect == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended(path, 0))))
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def recover(c: sa.Connection, run_id: str) -> None:
    """Mark a run whose launcher is gone FAILED (restartable), and free its files."""
    c.execute(mfp_run.update().where(mfp_run.c.run_id == run_id, mfp_run.c.status.in_(ACTIVE))
              .values(status=FAILED, exit_code=70, ended_at=utcnow(),
                      message="recovered: the launcher stopped without ending the run (no "
                              "heartbeat); restartable"))
    c.execute(mfp_file.update().where(mfp_file.c.owner_run_id == run_id).values(
        status=FAILED, owner_run_id=None, updated_at=utcnow()))


def _row(facts: FileFacts, status: str) -> dict[str, Any]:
    return {"path": facts.path, "size": facts.size, "mtime": facts.mtime,
            "sha256": facts.sha256, "status": status, "updated_at": utcnow()}
