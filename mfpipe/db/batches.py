"""The service's batches: bulk launches of job files, one operation per file, recorded in the
job repository beside the runs (Spring Batch Admin's job executions over many jobs).

A batch is created by ``mfpipe serve`` and run by its own process (``mfpipe batch run``),
which launches each operation as the CLI would; so a batch outlives the service that
started it, and its state is here, never in a web process's memory. An operation's runs are
the runs whose attempts its launcher process made (host, process id, since it started):
found while it runs, for progress, and stored when it ends.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mfpipe.db.control import RUN_ID, create_control_tables, mfp_attempt
from mfpipe.db.runs import RunStore, time_ordered_id, utcnow

metadata = sa.MetaData()

mfp_batch = sa.Table(
    "mfp_batch", metadata,
    sa.Column("batch_id", RUN_ID, primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("parallel", sa.Boolean, nullable=False),  # or one operation after the other
    sa.Column("max_workers", sa.Integer, nullable=False),  # operations at once, when parallel
    sa.Column("stop_on_error", sa.Boolean, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("requested_by", sa.String(100)),  # the token's name, or "local"
    sa.Column("host", sa.String(100)),  # the batch runner's
    sa.Column("pid", sa.Integer),
    sa.Column("message", sa.String(2000)),
)

mfp_batch_op = sa.Table(
    "mfp_batch_op", metadata,
    sa.Column("batch_id", RUN_ID, primary_key=True),
    sa.Column("op_no", sa.Integer, primary_key=True),
    sa.Column("job_file", sa.String(1000), nullable=False),
    sa.Column("job", sa.String(200), nullable=False),
    sa.Column("input_path", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("started_at", sa.DateTime),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("host", sa.String(100)),  # the operation's launcher process
    sa.Column("pid", sa.Integer),
    sa.Column("run_ids", sa.Text),  # JSON list, once the operation ended
    sa.Column("message", sa.String(2000)),
)


class BatchStatus(enum.StrEnum):
    """A batch waits for its runner (QUEUED), runs, and ends COMPLETED (every operation
    COMPLETED or SKIPPED), FAILED (one did not load) or CANCELLED."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.CANCELLED)


class OpStatus(enum.StrEnum):
    """An operation: PENDING, RUNNING, then as its launcher exited: COMPLETED (0), SKIPPED
    (99: loaded before), STOPPED (143: cancelled, restartable) or FAILED; CANCELLED when it
    never started (the batch was cancelled, or stopped on an error)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    SKIPPED = "SKIPPED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def retryable(self) -> bool:
        return self in (OpStatus.FAILED, OpStatus.STOPPED, OpStatus.CANCELLED)


@dataclass(frozen=True)
class BatchRecord:
    batch_id: str
    status: str
    parallel: bool
    max_workers: int
    stop_on_error: bool
    cancel_requested: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    requested_by: str | None
    host: str | None
    pid: int | None
    message: str | None


@dataclass(frozen=True)
class OperationRecord:
    batch_id: str
    op_no: int
    job_file: str
    job: str
    input_path: str
    status: str
    tries: int
    exit_code: int | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    host: str | None
    pid: int | None
    run_ids: list[str]
    message: str | None


@dataclass(frozen=True)
class Planned:
    """One operation of a batch to create: a job file and one of its input files."""

    job_file: str
    job: str
    input_path: str


class BatchStore:
    """The one door to the batch tables of a job repository (the runs' store's database)."""

    def __init__(self, store: RunStore) -> None:
        self.engine = store.engine

    def prepare(self) -> None:
        """Create the batch tables (idempotent; an older version's are checked)."""
        create_control_tables(self.engine, tables=metadata)

    def create(self, planned: Sequence[Planned], parallel: bool, max_workers: int,
               stop_on_error: bool, requested_by: str) -> str:
        batch_id, now = time_ordered_id("B"), utcnow()  # sorts as run ids do
        with self.engine.begin() as c:
            c.execute(mfp_batch.insert().values(
                batch_id=batch_id, status=BatchStatus.QUEUED, parallel=parallel,
                max_workers=max_workers, stop_on_error=stop_on_error, cancel_requested=False,
                created_at=now, requested_by=requested_by))
            c.execute(mfp_batch_op.insert(), [
                {"batch_id": batch_id, "op_no": n, "job_file": p.job_file, "job": p.job,
                 "input_path": p.input_path, "status": OpStatus.PENDING, "tries": 0}
                for n, p in enumerate(planned, 1)])
        return batch_id

    def batches(self, *, status: str | None = None, job: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None,
                offset: int = 0, limit: int = 50) -> tuple[list[BatchRecord], int]:
        """The newest batches first, filtered (``job``: one of its operations'), and how
        many match in all."""
        b = mfp_batch.c
        where = [b.status == status] if status else []
        if job:
            where.append(sa.exists().where(mfp_batch_op.c.batch_id == b.batch_id,
                                           mfp_batch_op.c.job == job))
        if since:
            where.append(b.created_at >= since)
        if until:
            where.append(b.created_at < until)
        with self.engine.connect() as c:
            total = c.execute(sa.select(sa.func.count()).select_from(mfp_batch)
                              .where(*where)).scalar_one()
            rows = c.execute(sa.select(mfp_batch).where(*where)
                             .order_by(b.batch_id.desc()).offset(offset).limit(limit))
            return [BatchRecord(**row._mapping) for row in rows], int(total)

    def batch(self, batch_id: str) -> BatchRecord | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(mfp_batch).where(
                mfp_batch.c.batch_id == batch_id)).first()
        return BatchRecord(**row._mapping) if row else None

    def operations(self, batch_id: str) -> list[OperationRecord]:
        o = mfp_batch_op.c
        with self.engine.connect() as c:
            rows = c.execute(sa.select(mfp_batch_op).where(o.batch_id == batch_id)
                             .order_by(o.op_no)).all()
        return [OperationRecord(**{**row._mapping,
                                   "run_ids": json.loads(row.run_ids or "[]")}) for row in rows]

    def op_counts(self, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per batch, its operations per status."""
        o = mfp_batch_op.c
        counts: dict[str, dict[str, int]] = {b: {} for b in batch_ids}
        with self.engine.connect() as c:
            for batch_id, status, n in c.execute(
                    sa.select(o.batch_id, o.status, sa.func.count())
                    .where(o.batch_id.in_(list(batch_ids))).group_by(o.batch_id, o.status)):
                counts[batch_id][status] = int(n)
        return counts

    def cancel(self, batch_id: str) -> BatchStatus | None:
        """Cancel a batch: a queued one at once (its runner, if it starts, finds nothing to
        do), a running one by asking its runner (it stops launching, and stops the running
        operations at a chunk boundary). Its status after, or None when it had ended."""
        now = utcnow()
        with self.engine.begin() as c:
            b = mfp_batch.c
            if c.execute(mfp_batch.update().where(
                    b.batch_id == batch_id, b.status == BatchStatus.QUEUED).values(
                    status=BatchStatus.CANCELLED, cancel_requested=True, ended_at=now,
                    message="cancelled before it started")).rowcount:
                c.execute(mfp_batch_op.update().where(
                    mfp_batch_op.c.batch_id == batch_id,
                    mfp_batch_op.c.status == OpStatus.PENDING).values(
                    status=OpStatus.CANCELLED, message="not started: the batch was cancelled"))
                return BatchStatus.CANCELLED
            if c.execute(mfp_batch.update().where(
                    b.batch_id == batch_id, b.status == BatchStatus.RUNNING).values(
                    cancel_requested=True)).rowcount:
                return BatchStatus.RUNNING
        return None

    def update(self, batch_id: str, *, statuses: Sequence[str] = (), **values: Any) -> bool:
        """Change a batch (only while its status is one of ``statuses``, when given)."""
        b = mfp_batch.c
        where = [b.batch_id == batch_id] + ([b.status.in_(statuses)] if statuses else [])
        with self.engine.begin() as c:
            return c.execute(mfp_batch.update().where(*where).values(**values)).rowcount > 0

    def update_op(self, batch_id: str, op_no: int, **values: Any) -> None:
        if "run_ids" in values:
            values["run_ids"] = json.dumps(values["run_ids"])
        o = mfp_batch_op.c
        with self.engine.begin() as c:
            c.execute(mfp_batch_op.update().where(o.batch_id == batch_id, o.op_no == op_no)
                      .values(**values))

    def retry(self, batch_id: str) -> int:
        """Queue a finished batch's failed, stopped and cancelled operations again, and the
        batch with them; how many (0: the batch is not finished, has none, or still has an
        operation whose launcher runs: its outcome is not known yet)."""
        o = mfp_batch_op.c
        finished = [s for s in BatchStatus if s.finished]
        with self.engine.begin() as c:
            if c.execute(sa.select(o.op_no).where(  # a launcher a dead runner left running
                    o.batch_id == batch_id, o.status == OpStatus.RUNNING)).first():
                return 0
            again = c.execute(mfp_batch_op.update().where(
                o.batch_id == batch_id, o.status.in_([s for s in OpStatus if s.retryable]),
                sa.exists().where(mfp_batch.c.batch_id == batch_id,
                                  mfp_batch.c.status.in_(finished)))
                .values(status=OpStatus.PENDING, exit_code=None, ended_at=None,
                        message=None)).rowcount
            if again:
                c.execute(mfp_batch.update().where(mfp_batch.c.batch_id == batch_id).values(
                    status=BatchStatus.QUEUED, cancel_requested=False, ended_at=None,
                    message=None))
            return int(again)

    def delete(self, batch_id: str) -> bool:
        """Forget a finished batch (its runs' control history stays)."""
        finished = [s for s in BatchStatus if s.finished]
        with self.engine.begin() as c:
            gone = c.execute(mfp_batch.delete().where(
                mfp_batch.c.batch_id == batch_id, mfp_batch.c.status.in_(finished))).rowcount
            if gone:
                c.execute(mfp_batch_op.delete().where(mfp_batch_op.c.batch_id == batch_id))
            return gone > 0

    def runs_of(self, op: OperationRecord) -> list[str]:
        """The runs an operation's launcher has worked on: stored when it ended, else those
        whose attempts its process made since it started."""
        if op.ended_at is not None or op.pid is None or op.started_at is None:
            return op.run_ids
        a = mfp_attempt.c
        with self.engine.connect() as c:
            rows = c.execute(sa.select(a.run_id).where(
                a.host == op.host, a.pid == op.pid, a.started_at >= op.started_at)
                .order_by(a.started_at)).scalars().all()
        return list(dict.fromkeys(rows))
