"""The file registry (``mfp_file``): every file a launcher met, and the run holding it.

A path's row says what the operator needs to know of it: size, modification time, SHA-256,
status (DISCOVERED, PROCESSING, SUCCESS, FAILED, SKIPPED), the run holding it while
PROCESSING and the run whose rows the final table holds for it. Which run may load a file
is decided by a claim (:mod:`mfpipe.db.claims`) in a transaction that :func:`serialized`
makes exclusive per path and per load identity.

A run is alive while its status is active, its heartbeat is younger than the TTL and, on this
host, its launcher process exists. A dead owner's run is recovered to FAILED on the spot, so
a killed launcher never blocks the next night.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mfpipe import storage
from mfpipe.db import dialects
from mfpipe.db.explorer import RunRecord
from mfpipe.db.control import mfp_attempt, mfp_chunk, mfp_file, mfp_run
from mfpipe.db.runs import RunStore, attempt_totals, utcnow
from mfpipe.db.status import ACTIVE, FAILED, STARTED, RunStatus

DISCOVERED, PROCESSING, SUCCESS, SKIPPED = "DISCOVERED", "PROCESSING", "SUCCESS", "SKIPPED"
HOST = socket.gethostname()[:100]


@dataclass(frozen=True)
class FileFacts:
    """What identifies a file's content: size, modification time, SHA-256 (and, for an
    object in a store, the store's tag: see :mod:`mfpipe.storage`)."""

    path: str
    size: int
    mtime: dt.datetime
    sha256: str
    tag: str = ""

    @classmethod
    def stat(cls, path: str) -> FileFacts:
        """Size and modification time only (no checksum yet: the claim computes it)."""
        known = storage.stat(path)
        return cls(storage.absolute(path), known.size, known.mtime, "", known.tag)

    @classmethod
    def of(cls, path: str) -> FileFacts:
        """Stat and checksum a file (read once, in 1 MiB blocks; an object: its local copy,
        which the launch then plans and loads from)."""
        known = storage.stat(path)
        local = storage.local_copy(path, known) if storage.is_url(path) else path
        with open(local, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return cls(storage.absolute(path), known.size, known.mtime, digest, known.tag)

    def changed(self) -> str:
        """'' if the file's size, modification time and tag are as these facts say;
        'disappeared' or 'changed' otherwise."""
        if not storage.exists(self.path):
            return "disappeared"
        now = storage.stat(self.path)  # a store away now: 75, never taken for a change
        return "" if now == storage.Stat(self.size, self.mtime, self.tag) else "changed"


def is_alive(run: RunRecord | None, ttl_s: float) -> bool:
    """Is the run's launcher still working (see the module docstring)?"""
    if run is None or run.status not in ACTIVE:
        return False
    heartbeat = run.heartbeat_at
    if heartbeat is None or utcnow() - heartbeat > dt.timedelta(seconds=ttl_s):
        return False
    return not (run.host == HOST and run.pid and not process_exists(run.pid))


def process_exists(pid: int) -> bool:
    """Is there a process ``pid`` on this host (a zombie counts until its parent reaps it)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def discover(store: RunStore, facts: FileFacts) -> None:
    """Record a file a launch has found, if the registry does not know it yet."""
    with serialized(store.engine, facts.path) as c:
        if file_row(c, facts.path) is None:
            c.execute(mfp_file.insert().values(path=facts.path, size=facts.size,
                                               mtime=facts.mtime, sha256=facts.sha256,
                                               status=DISCOVERED, updated_at=utcnow()))


def release(store: RunStore, path: str, run_id: str, status: str,
            last_run_id: str | None = None) -> None:
    """End ``run_id``'s hold on ``path`` with ``status``; ``last_run_id``: the run whose rows
    the target now holds for the file (kept as it was when None)."""
    values: dict[str, Any] = {"status": status, "owner_run_id": None, "updated_at": utcnow()}
    if last_run_id:
        values["last_run_id"] = last_run_id
    with store.engine.begin() as c:
        c.execute(mfp_file.update().where(mfp_file.c.path == path,
                                          mfp_file.c.owner_run_id == run_id).values(values))


def file_row(c: sa.Connection, path: str) -> Any:
    """The registry row of a path (None when unknown), locked on Oracle."""
    query = sa.select(mfp_file).where(mfp_file.c.path == path)
    return c.execute(dialects.of(c).for_update(query)).first()


@contextmanager
def serialized(engine: sa.Engine, *names: str) -> Iterator[sa.Connection]:
    """A transaction that no other holder of any of ``names`` runs alongside: PostgreSQL
    advisory locks (taken in sorted order, so two holders never wait on each other),
    SQLite's write lock, Oracle row locks in ``mfp_lock``."""
    with engine.connect() as connection:
        dialects.of(connection).serialize(connection, sorted(set(names)))
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def recover_dead(store: RunStore, ttl_s: float) -> list[str]:
    """Mark FAILED every active run whose launcher is gone (``runs recover``); return their
    ids."""
    query = sa.select(mfp_run).where(mfp_run.c.status.in_(ACTIVE))
    with store.engine.begin() as c:
        return [r.run_id for r in map(RunRecord.of, c.execute(query).mappings().all())
                if recover_if_dead(c, r, ttl_s) == FAILED]


def recover_if_dead(c: sa.Connection, run: RunRecord, ttl_s: float) -> RunStatus:
    """The run's status, after recovering it to FAILED if its launcher is gone. A run that
    changed since it was read (its launcher ended it meanwhile: COMPLETED, say) is read
    again: never assume a recovery that did not happen."""
    if run.status not in ACTIVE or is_alive(run, ttl_s):
        return run.status
    if recover(c, run.run_id):
        return FAILED
    return RunStatus(c.execute(sa.select(mfp_run.c.status).where(
        mfp_run.c.run_id == run.run_id)).scalar_one())


def recover(c: sa.Connection, run_id: str) -> bool:
    """Mark a run whose launcher is gone FAILED (restartable), with the counts of its ledger
    (the dead launcher recorded none for its last attempt), and free its files; False when
    the run was no longer active (nothing changed)."""
    ledger = mfp_chunk.c
    mine = ledger.run_id == run_id

    def total(column: sa.ColumnElement) -> sa.ScalarSelect:
        return sa.select(sa.func.coalesce(sa.func.sum(column), 0)).where(mine).scalar_subquery()

    done = c.execute(mfp_run.update().where(mfp_run.c.run_id == run_id,
                                            mfp_run.c.status.in_(ACTIVE))
              .values(status=FAILED, exit_code=70, ended_at=utcnow(),
                      records_read=total(ledger.last_record_no - ledger.first_record_no + 1),
                      records_loaded=total(ledger.rows_loaded),
                      records_rejected=total(ledger.rows_rejected),
                      records_discarded=total(ledger.rows_discarded),
                      chunks=sa.select(sa.func.count()).where(mine).scalar_subquery(),
                      message="recovered: the launcher stopped without ending the run (no "
                              "heartbeat); restartable"))
    if done.rowcount != 1:
        return False
    c.execute(mfp_file.update().where(mfp_file.c.owner_run_id == run_id).values(
        status=FAILED, owner_run_id=None, updated_at=utcnow()))
    _end_lost_attempts(c, run_id)
    return True


def _end_lost_attempts(c: sa.Connection, run_id: str) -> None:
    """The attempts a dead launcher left STARTED end FAILED at its last heartbeat (the last
    moment it was known to work), so that their time counts, and no more than that."""
    a = mfp_attempt.c
    heartbeat = c.execute(sa.select(mfp_run.c.heartbeat_at).where(mfp_run.c.run_id == run_id)
                          ).scalar_one_or_none()
    lost = c.execute(sa.select(a.attempt, a.started_at).where(a.run_id == run_id,
                                                             a.status == STARTED)).all()
    for attempt, started in lost:
        ended = max(heartbeat or started, started)
        c.execute(mfp_attempt.update().where(a.run_id == run_id, a.attempt == attempt).values(
            status=FAILED, exit_code=70, ended_at=ended,
            elapsed_s=round((ended - started).total_seconds(), 3),
            message="the launcher stopped without ending its attempt"))
    if lost:
        c.execute(mfp_run.update().where(mfp_run.c.run_id == run_id).values(
            attempt_totals(c, run_id)))
