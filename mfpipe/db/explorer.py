"""What the control tables say about runs, as operators, reports and checks read them.

The read side of :class:`mfpipe.db.runs.RunStore` (Spring Batch's ``JobExplorer`` beside its
``JobRepository``): every query of ``mfp_run``, ``mfp_attempt``, the ledger, the rejects,
the stored check results and the purges outside the database layer goes through these
methods, so no other package knows the control tables' columns. Runs, attempts and ledger
chunks come back as typed records (:class:`RunRecord`, :class:`AttemptRecord`,
:class:`ChunkRecord`); the other reads as plain values.

A reader inside a transaction (the checks of a run being published read what that
transaction has written) passes its connection as ``within``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa

from mfpipe.db.control import (mfp_attempt, mfp_chunk, mfp_chunk_proof, mfp_nulled, mfp_plan,
                               mfp_purge, mfp_recon_result, mfp_reject, mfp_run)
from mfpipe.db.measure import Measure
from mfpipe.db.status import ABANDONED, COMPLETED, FAILED, STOPPED, RunStatus
from mfpipe.framing import ChunkSpan

R = TypeVar("R")


def _record(kind: type[R], row: Mapping[Any, Any], **parsed: Any) -> R:
    """A record from a row of its table (columns it does not know, none: the table and the
    record are defined together)."""
    names = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    return kind(**{k: v for k, v in row.items() if k in names}, **parsed)


@dataclass(frozen=True)
class RunRecord:
    """A run as ``mfp_run`` holds it (see ``control.py`` for what each column means)."""

    run_id: str
    job: str
    file: str
    status: RunStatus
    attempt: int
    started_at: dt.datetime
    file_sha256: str | None = None
    layout: str | None = None
    record_name: str | None = None
    staging_table: str | None = None
    final_table: str | None = None
    superseded_by: str | None = None
    ended_at: dt.datetime | None = None
    heartbeat_at: dt.datetime | None = None
    records_read: int | None = None
    records_loaded: int | None = None
    records_rejected: int | None = None
    records_discarded: int | None = None
    records_skipped: int | None = None
    chunks: int | None = None
    exit_code: int | None = None
    elapsed_s: float | None = None
    cpu_s: float | None = None
    metrics: str | None = None
    message: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the run's stored job spec
    trailer_hex: str | None = None
    version: str | None = None
    host: str | None = None
    pid: int | None = None

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> RunRecord:
        return _record(cls, {**row, "status": RunStatus(row["status"]),
                             "options": json.loads(row["options"] or "{}")})


@dataclass(frozen=True)
class AttemptRecord:
    """A launcher's attempt at a run, as ``mfp_attempt`` holds it."""

    run_id: str
    attempt: int
    command: str
    started_at: dt.datetime
    status: str
    host: str | None = None
    pid: int | None = None
    ended_at: dt.datetime | None = None
    exit_code: int | None = None
    message: str | None = None
    chunks: int | None = None
    records_read: int | None = None
    records_loaded: int | None = None
    records_rejected: int | None = None
    elapsed_s: float | None = None
    load_s: float | None = None
    publish_s: float | None = None
    cpu_s: float | None = None
    metrics: str | None = None  # JSON: per worker counts and busy seconds


@dataclass(frozen=True)
class ChunkRecord:
    """A committed chunk, as the ledger (``mfp_chunk``) holds it."""

    run_id: str
    chunk_id: int
    worker_id: int
    byte_offset: int
    byte_length: int
    first_record_no: int
    last_record_no: int
    rows_loaded: int
    rows_rejected: int
    rows_discarded: int
    status: str
    committed_at: dt.datetime
    content_hash: str
    totals: str  # JSON: exact totals of the money columns, as decimal text

    @property
    def records(self) -> int:
        """Source records the chunk covered."""
        return self.last_record_no - self.first_record_no + 1


@dataclass(frozen=True)
class PlannedChunk:
    """A chunk as its run planned it (``mfp_plan``): its entry in the file's sparse index
    (``span``) and how many of its records the run skips, then reads."""

    span: ChunkSpan
    skipped: int
    read: int

    @property
    def chunk_id(self) -> int:
        return self.span.chunk_id

    def describe(self) -> str:
        span = self.span
        return (f"bytes {span.byte_offset}-{span.byte_offset + span.byte_length}, records "
                f"{span.first_record_no}-{span.first_record_no + span.records - 1} "
                f"({self.read} read)")


@dataclass(frozen=True)
class ChunkProofRecord:
    """What a chunk's writer measured of its staging rows inside the chunk's transaction
    (``mfp_chunk_proof``)."""

    chunk_id: int
    rows_found: int
    content_hash: int
    totals: dict[str, Decimal]
    flagged: dict[str, int]  # rows breaking each row-wise rule, by the rule's name

    def measure(self, rules: Sequence[str]) -> Measure:
        """As a :class:`Measure` counting ``rules``' breaches in their order."""
        return Measure(self.rows_found, self.content_hash, dict(self.totals),
                       tuple(self.flagged[rule] for rule in rules))


def read_run(connection: sa.Connection, run_id: str) -> RunRecord | None:
    """The run as ``connection`` sees it (in its transaction), or None if there is none."""
    row = connection.execute(sa.select(mfp_run).where(mfp_run.c.run_id == run_id)
                             ).mappings().first()
    return RunRecord.of(row) if row is not None else None


class RunExplorer:
    """Read-only queries of the control tables (mixed into ``RunStore``)."""

    engine: sa.Engine

    def run(self, run_id: str) -> RunRecord | None:
        """The run, or None if there is none."""
        with self.engine.connect() as c:
            return read_run(c, run_id)

    def runs(self, *, status: str | None = None, job: str | None = None,
             since: dt.datetime | None = None, before: dt.datetime | None = None,
             limit: int = 100, offset: int = 0) -> list[RunRecord]:
        """The newest runs first, filtered by status, job and start time (``since``
        inclusive, ``before`` exclusive); ``offset`` of them skipped (a page)."""
        query = (sa.select(mfp_run).where(*_run_filter(status, job, since, before))
                 .order_by(mfp_run.c.started_at.desc(), mfp_run.c.run_id.desc()))
        with self.engine.connect() as c:
            return [RunRecord.of(row) for row in
                    c.execute(query.offset(offset).limit(limit)).mappings()]

    def run_count(self, *, status: str | None = None, job: str | None = None,
                  since: dt.datetime | None = None, before: dt.datetime | None = None) -> int:
        """How many runs :meth:`runs` filters (for its pages)."""
        query = sa.select(sa.func.count()).select_from(mfp_run).where(
            *_run_filter(status, job, since, before))
        with self.engine.connect() as c:
            return int(c.execute(query).scalar_one())

    def progress(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Per run, what its ledger says as chunks commit: chunks, records read, loaded,
        rejected and discarded, the bytes of the file behind the last committed chunk, and
        the first and last commit."""
        c = mfp_chunk.c
        query = (sa.select(c.run_id, sa.func.count().label("chunks"),
                           sa.func.sum(c.last_record_no - c.first_record_no + 1).label("read"),
                           sa.func.sum(c.rows_loaded).label("loaded"),
                           sa.func.sum(c.rows_rejected).label("rejected"),
                           sa.func.sum(c.rows_discarded).label("discarded"),
                           sa.func.sum(c.byte_length).label("bytes"),
                           sa.func.min(c.committed_at).label("first_commit"),
                           sa.func.max(c.committed_at).label("last_commit"))
                 .where(c.run_id.in_(run_ids)).group_by(c.run_id))
        with self.engine.connect() as connection:
            found = {row["run_id"]: dict(row) for row in connection.execute(query).mappings()}
        return {run_id: {k: (int(v) if k in ("chunks", "read", "loaded", "rejected",
                                             "discarded", "bytes") else v)
                         for k, v in found.get(run_id, _NO_PROGRESS).items() if k != "run_id"}
                for run_id in run_ids}

    def committed_since(self, run_id: str, since: dt.datetime) -> tuple[int, int]:
        """Records and bytes of the run's chunks committed at or after ``since`` (an
        attempt's own, for its rate)."""
        c = mfp_chunk.c
        query = sa.select(sa.func.sum(c.last_record_no - c.first_record_no + 1),
                          sa.func.sum(c.byte_length)).where(c.run_id == run_id,
                                                            c.committed_at >= since)
        with self.engine.connect() as connection:
            records, size = connection.execute(query).one()
        return int(records or 0), int(size or 0)

    def failing_checks(self, since: dt.datetime | None, before: dt.datetime | None,
                       limit: int = 10) -> list[tuple[str, int]]:
        """The checks that failed most often on the runs started in the period."""
        k, r = mfp_recon_result.c, mfp_run.c
        query = (sa.select(k.check_name, sa.func.count().label("n"))
                 .join_from(mfp_recon_result, mfp_run, k.run_id == r.run_id)
                 .where(k.passed.is_(False), *_run_filter(None, None, since, before))
                 .group_by(k.check_name).order_by(sa.desc("n"), k.check_name).limit(limit))
        with self.engine.connect() as c:
            return [(str(name), int(n)) for name, n in c.execute(query)]

    def attempts(self, run_id: str) -> list[AttemptRecord]:
        """The run's attempts, first to last."""
        query = sa.select(mfp_attempt).where(mfp_attempt.c.run_id == run_id).order_by(
            mfp_attempt.c.attempt)
        with self.engine.connect() as c:
            return [_record(AttemptRecord, r) for r in c.execute(query).mappings()]

    def ledger(self, run_id: str) -> list[ChunkRecord]:
        """Committed chunks of a run, in chunk order."""
        query = sa.select(mfp_chunk).where(mfp_chunk.c.run_id == run_id).order_by(
            mfp_chunk.c.chunk_id)
        with self.engine.connect() as c:
            return [_record(ChunkRecord, r) for r in c.execute(query).mappings()]

    def plan(self, run_id: str) -> dict[int, PlannedChunk]:
        """The run's chunks as its reader planned them, by chunk (none before the first
        attempt framed the file, or for a run begun by an mfpipe that kept no plan)."""
        c = mfp_plan.c
        query = sa.select(mfp_plan).where(c.run_id == run_id)
        with self.engine.connect() as connection:
            return {int(r.chunk_id): PlannedChunk(
                ChunkSpan(int(r.chunk_id), int(r.first_record_no), int(r.byte_offset),
                          int(r.byte_length), int(r.records)), int(r.records_skipped),
                int(r.records_read))
                for r in connection.execute(query)}

    def chunk_proofs(self, run_id: str, within: sa.Connection | None = None
                     ) -> dict[int, ChunkProofRecord]:
        """The measures the run's writers took of their chunks, by chunk."""
        c = mfp_chunk_proof.c
        query = sa.select(c.chunk_id, c.rows_found, c.content_hash, c.totals, c.flagged).where(
            c.run_id == run_id)
        with self._reading(within) as connection:
            return {int(r.chunk_id): ChunkProofRecord(
                int(r.chunk_id), int(r.rows_found), int(r.content_hash),
                {k: Decimal(v) for k, v in json.loads(r.totals).items()},
                {k: int(v) for k, v in json.loads(r.flagged).items()})
                for r in connection.execute(query)}

    def committed(self, run_id: str, chunk_id: int) -> bool:
        """Is the chunk in the run's ledger?"""
        c = mfp_chunk.c
        with self.engine.connect() as connection:
            return connection.execute(sa.select(c.chunk_id).where(
                c.run_id == run_id, c.chunk_id == chunk_id)).first() is not None

    def ledger_by_worker(self, run_id: str, within: sa.Connection | None = None
                         ) -> list[tuple[int, int, int, int, int]]:
        """Per worker, from the ledger: (worker, records read, loaded, rejected, chunks)."""
        c = mfp_chunk.c
        query = (sa.select(c.worker_id, sa.func.sum(c.last_record_no - c.first_record_no + 1),
                           sa.func.sum(c.rows_loaded), sa.func.sum(c.rows_rejected),
                           sa.func.count())
                 .where(c.run_id == run_id).group_by(c.worker_id).order_by(c.worker_id))
        with self._reading(within) as connection:
            return [(int(w), int(r), int(lo), int(rj), int(n))
                    for w, r, lo, rj, n in connection.execute(query)]

    def rejects(self, run_id: str, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """The run's rejects in record order, ``limit`` of them after the first ``offset``."""
        query = sa.select(mfp_reject).where(mfp_reject.c.run_id == run_id).order_by(
            mfp_reject.c.record_no).offset(offset).limit(limit)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(query).mappings()]

    def reject_count(self, run_id: str, within: sa.Connection | None = None) -> int:
        """How many rejects the run recorded."""
        query = sa.select(sa.func.count()).select_from(mfp_reject).where(
            mfp_reject.c.run_id == run_id)
        with self._reading(within) as connection:
            return int(connection.execute(query).scalar_one())

    def reject_groups(self, run_id: str, samples: int, within: sa.Connection | None = None
                      ) -> list[tuple[str, str | None, int, list[sa.Row]]]:
        """Rejects grouped by reason and field, most frequent first: (reason, field, count,
        the first ``samples`` of the group as (record_no, byte_offset, field, raw_hex))."""
        r = mfp_reject.c
        groups = (sa.select(r.reason, r.field, sa.func.count().label("n"))
                  .where(r.run_id == run_id).group_by(r.reason, r.field)
                  .order_by(sa.desc("n"), r.reason))
        with self._reading(within) as connection:
            return [(reason, field, int(n), list(connection.execute(
                sa.select(r.record_no, r.byte_offset, r.field, r.raw_hex)
                .where(r.run_id == run_id, r.reason == reason,
                       r.field.is_(None) if field is None else r.field == field)
                .order_by(r.record_no).limit(samples))))
                for reason, field, n in connection.execute(groups).all()]

    def nulled(self, run_id: str, within: sa.Connection | None = None) -> dict[str, int]:
        """Per column, how many invalid numeric fields loaded NULL (``--invalid-numeric
        null``)."""
        n = mfp_nulled.c
        query = (sa.select(n.column_name, sa.func.sum(n.fields)).where(n.run_id == run_id)
                 .group_by(n.column_name).order_by(n.column_name))
        with self._reading(within) as connection:
            return {str(column): int(fields) for column, fields in connection.execute(query)}

    def checks(self, run_id: str) -> list[dict[str, Any]]:
        """The run's stored check results, in the order they ran: details (a list) and
        proof parsed from the details column (an earlier mfpipe kept the list alone)."""
        query = sa.select(mfp_recon_result).where(mfp_recon_result.c.run_id == run_id
                                                  ).order_by(mfp_recon_result.c.position)
        with self.engine.connect() as c:
            return [{**r, **_details(r["details"])} for r in c.execute(query).mappings()]

    def purge(self, run_id: str) -> dict[str, Any] | None:
        """When and from which table the run's staging rows were purged, or None."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(mfp_purge).where(mfp_purge.c.run_id == run_id)
                            ).mappings().first()
        return dict(row) if row else None

    def job_stats(self) -> list[dict[str, Any]]:
        """Per job: runs, and how many ended COMPLETED, FAILED or STOPPED (failed) and
        ABANDONED; the mean elapsed seconds, records read and seconds of the completed."""
        r = mfp_run.c

        def counted(*statuses: str) -> sa.ColumnElement:
            return sa.func.sum(sa.case((r.status.in_(statuses), 1), else_=0))

        def of_completed(column: sa.ColumnElement) -> sa.ColumnElement:
            return sa.case((r.status == COMPLETED, column))

        query = (sa.select(r.job, sa.func.count().label("runs"),
                           counted(COMPLETED).label("completed"),
                           counted(FAILED, STOPPED).label("failed"),
                           counted(ABANDONED).label("abandoned"),
                           sa.func.avg(of_completed(r.elapsed_s)).label("mean_s"),
                           sa.func.sum(of_completed(r.records_read)).label("read"),
                           sa.func.sum(of_completed(r.elapsed_s)).label("secs"))
                 .group_by(r.job).order_by(r.job))
        with self.engine.connect() as c:
            return [dict(row) for row in c.execute(query).mappings()]

    @contextlib.contextmanager
    def _reading(self, within: sa.Connection | None) -> Iterator[sa.Connection]:
        if within is not None:
            yield within
            return
        with self.engine.connect() as connection:
            yield connection


def _details(stored: str | None) -> dict[str, Any]:
    """A check's stored details column as its ``details`` and ``proof``."""
    found = json.loads(stored or "[]")
    if isinstance(found, list):
        return {"details": found, "proof": ""}
    return {"details": found["details"], "proof": found.get("proof", "")}


_NO_PROGRESS = {"chunks": 0, "read": 0, "loaded": 0, "rejected": 0, "discarded": 0, "bytes": 0,
                "first_commit": None, "last_commit": None}


def _run_filter(status: str | None, job: str | None, since: dt.datetime | None,
                before: dt.datetime | None) -> list[sa.ColumnElement[bool]]:
    r = mfp_run.c
    where = [r.status == status] if status is not None else []
    where += [r.job == job] if job is not None else []
    where += [r.started_at >= since] if since is not None else []
    return where + ([r.started_at < before] if before is not None else [])
