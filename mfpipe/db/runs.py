"""Runs in the control tables: status, heartbeat, the chunk ledger and staging counts.

Status changes and heartbeats are small transactions of their own on a SQLAlchemy engine,
separate from the writers' bulk-load connections; the ledger rows themselves are written
by the writers, inside each chunk's transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
import tenacity
from sqlalchemy.engine import make_url

from mfpipe.db import dialects
from mfpipe.db.control import (CHECK_TEXT, create_control_tables, create_indexes, create_table,
                               mfp_attempt, mfp_chunk, mfp_chunk_proof, mfp_nulled, mfp_plan,
                               mfp_recon_result, mfp_reject, mfp_run)
from mfpipe.db.explorer import PlannedChunk, RunExplorer, read_run
from mfpipe.db.identity import LoadIdentity
from mfpipe.db.schema import final_table, staging_table
from mfpipe.db.status import (ABANDONED, ACTIVE, COMPLETED, RESTARTABLE, STARTED, STARTING,
                               STOPPING)
from mfpipe.db.urls import create_engine, redact, session_name, session_url
from mfpipe.errors import (EXIT_STOPPED, EXIT_TEMPORARY, EXIT_USAGE, ConfigError,
                           DatabaseUnavailableError, InputError, RunError, first_line)

def _type_text(sql_type: sa.types.TypeEngine, dialect: sa.engine.Dialect) -> str:
    text = sql_type.compile(dialect=dialect).lower().replace(" ", "")
    return {"double": "doubleprecision", "float": "doubleprecision"}.get(text, text)


def utcnow() -> dt.datetime:
    """Naive UTC, the same on every dialect."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def time_ordered_id(prefix: str = "") -> str:
    """An id that sorts by creation time: ``prefix``, a UTC timestamp and a short random
    suffix (``20261122T071500Z-3fa9c1``)."""
    return f"{prefix}{utcnow():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunStore(RunExplorer):
    """The one door to one database's control tables: a run's writes here, its reads in
    :class:`~mfpipe.db.explorer.RunExplorer`."""

    def __init__(self, url: str, run_id: str | None = None) -> None:
        """``run_id``: the store works for that run, and its PostgreSQL sessions carry its
        name, as the writers' do (see :meth:`end_sessions`)."""
        self.url = url
        self.engine = create_engine(session_url(url, run_id) if run_id else url)
        self.dialect = dialects.of(self.engine)
        self._control_ready = False
        self._lease: tuple[str, int] | None = None

    @classmethod
    def existing(cls, url: str, retry_s: float = 5.0) -> RunStore:
        """A store of a database that holds mfpipe's runs, for the commands that read or
        tidy them: no SQLite file is created, and control tables only where an earlier
        mfpipe's runs lack one a later mfpipe added (empty: ``mfp_plan``, say). A database
        that is not there, or never held a run, is 66; one that does not answer is 75."""
        parsed = make_url(url)
        if dialects.get(parsed.get_backend_name()).missing(parsed):
            raise InputError(redact(url), "no such database file (nothing was loaded there)")
        store = cls(url)
        try:
            store.check_available(retry_s)
            if not sa.inspect(store.engine).has_table(mfp_run.name):
                raise InputError(redact(url), "holds no mfpipe runs (no control tables)")
            create_control_tables(store.engine)
        except BaseException:
            store.close()
            raise
        store._control_ready = True
        return store

    def check_available(self, retry_s: float) -> None:
        """Connect once, retrying with backoff for ``retry_s``; then say it is unavailable."""
        def attempt() -> None:
            with self.engine.connect():
                pass

        # a driver may raise the network's own error (python-oracledb: an unknown host)
        away = (sa.exc.OperationalError, sa.exc.InterfaceError, OSError)
        try:
            tenacity.Retrying(retry=tenacity.retry_if_exception_type(away),
                              wait=tenacity.wait_exponential(multiplier=0.2, max=5),
                              stop=tenacity.stop_after_delay(retry_s), reraise=True)(attempt)
        except away as exc:
            orig = getattr(exc, "orig", None)
            detail = first_line(orig) if orig else f"{type(exc).__name__}: {first_line(exc)}"
            raise DatabaseUnavailableError(f"{redact(self.url)}: {detail}") from None

    def prepare(self, table: str, schema: pa.Schema, final: str | None = None,
                key: Sequence[str] = (), staging: str | None = None
                ) -> tuple[sa.Table, sa.Table]:
        """Create the control tables, the staging table (``staging``, default
        ``stg_<table>``) and the final table (``final``, default ``<table>``).

        Existing tables must match the layout exactly (columns, types, the final table's
        key): mfpipe never alters a table that holds data.
        """
        self.prepare_control()
        metadata = sa.MetaData()
        tables = (staging_table(metadata, table, schema, self.dialect, staging),
                  final_table(metadata, final or table, schema, self.dialect, key))
        for expected in tables:
            if not create_table(self.engine, expected):  # created with its indexes, or
                self._check_matches(expected)  # left by an earlier mfpipe without them
                create_indexes(self.engine, expected)
        return tables

    def prepare_control(self) -> None:
        """Create the control tables (idempotent; checks tables an older mfpipe left), once
        per store."""
        if not self._control_ready:
            create_control_tables(self.engine)
            self._control_ready = True

    def _check_matches(self, expected: sa.Table) -> None:
        """Refuse to load into a table whose columns, types or key differ from the layout's."""
        inspector = sa.inspect(self.engine)
        found = {c["name"].lower(): c["type"] for c in inspector.get_columns(expected.name)}
        dialect = self.engine.dialect
        problems = []
        for column in expected.columns:
            if column.name not in found:
                problems.append(f"{column.name} is missing")
                continue
            want = _type_text(column.type, dialect)
            have = _type_text(found.pop(column.name), dialect)
            if want != have:
                problems.append(f"{column.name} is {have}, the layout needs {want}")
        problems += [f"{name} is not in the layout" for name in found]
        key = [c.lower() for c in inspector.get_pk_constraint(expected.name)[
            "constrained_columns"] or []]
        if sorted(key) != sorted(c.name for c in expected.primary_key.columns):
            problems.append(f"its key is ({', '.join(key)}), the job's is "
                            f"({', '.join(c.name for c in expected.primary_key.columns)})")
        if problems:
            raise ConfigError(f"table {expected.name} exists with other columns: "
                              + "; ".join(problems[:5]) + ". Drop it or load into another "
                              "database; mfpipe never alters its tables")

    def lease(self, run_id: str, attempt: int) -> None:
        """From now on this store writes to ``run_id`` only while ``attempt`` owns the run:
        a launcher whose run was recovered and taken over by a later attempt (it was
        stopped, not dead) changes nothing when it comes back."""
        self._lease = (run_id, attempt)

    def update(self, run_id: str, **values: Any) -> int:
        """Update the run's row (fenced by the lease, if the store holds one for it);
        return how many rows changed: 0 when another attempt owns the run now."""
        with self.engine.begin() as c:
            return int(c.execute(self._fenced(run_id).values(**values)).rowcount)

    def end_attempt(self, run_id: str, attempt: int, **values: Any) -> None:
        """Record how an attempt ended (status, exit code, what it added to the ledger,
        its phases and CPU) and the run's totals over every attempt: its wall time and CPU
        (a restarted run's elapsed time covers all its attempts, not the last load)."""
        a = mfp_attempt.c
        mine = sa.and_(a.run_id == run_id, a.attempt == attempt)
        with self.engine.begin() as c:
            c.execute(mfp_attempt.update().where(mine).values(ended_at=utcnow(), **values))
            c.execute(self._fenced(run_id).values(attempt_totals(c, run_id)))

    def update_if(self, run_id: str, statuses: Sequence[str], **values: Any) -> int:
        """:meth:`update`, only while the run is in one of ``statuses`` (a change that must
        not overwrite what another command has decided meanwhile)."""
        with self.engine.begin() as c:
            return int(c.execute(self._fenced(run_id).where(mfp_run.c.status.in_(statuses))
                                 .values(**values)).rowcount)

    def update_active(self, run_id: str, **values: Any) -> int:
        """:meth:`update_if` the run is active (a launcher's last word on a run that
        something else may have ended already)."""
        return self.update_if(run_id, ACTIVE, **values)

    def holds_lease(self) -> bool:
        """Does this store's attempt still own its run (no later attempt took it over)?"""
        if self._lease is None:
            return True
        run_id, attempt = self._lease
        with self.engine.connect() as c:
            return c.execute(sa.select(mfp_run.c.attempt).where(mfp_run.c.run_id == run_id)
                             ).scalar_one_or_none() == attempt

    def _fenced(self, run_id: str) -> sa.Update:
        statement = mfp_run.update().where(mfp_run.c.run_id == run_id)
        if self._lease is not None and self._lease[0] == run_id:
            statement = statement.where(mfp_run.c.attempt == self._lease[1])
        return statement

    def heartbeat(self, run_id: str) -> int:
        """Refresh the run's heartbeat; 0 when another attempt owns the run now."""
        return self.update(run_id, heartbeat_at=utcnow())

    def status(self, run_id: str) -> str | None:
        """The run's status as the database has it (another command may have changed it)."""
        with self.engine.connect() as c:
            return c.execute(sa.select(mfp_run.c.status).where(mfp_run.c.run_id == run_id)
                             ).scalar_one_or_none()

    def record_load(self, run_id: str, counts: dict[str, Any], **values: Any) -> None:
        """Record a load's counts (``values``: elapsed_s, cpu_s, metrics, ...)."""
        self.update(run_id, heartbeat_at=utcnow(), **values,
                    records_read=counts.get("read"), records_loaded=counts.get("loaded"),
                    records_rejected=counts.get("rejected"),
                    records_discarded=counts.get("discarded"),
                    records_skipped=counts.get("skipped"),
                    chunks=counts.get("chunks_committed"))

    def finish(self, run_id: str, status: str, exit_code: int, counts: dict[str, Any],
               message: str = "", **values: Any) -> None:
        """Record a run's outcome with its load's counts."""
        self.record_load(run_id, counts, status=status, exit_code=exit_code,
                         ended_at=utcnow(), message=message[:2000], **values)

    @contextlib.contextmanager
    def beating(self, run_id: str, every_s: float) -> Iterator[None]:
        """Keep the run's heartbeat fresh while the block runs (promotion and
        reconciliation, after the engine's own beat has stopped), so that other launchers
        and ``runs recover`` see the run alive; a beat that fails is skipped."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every_s):
                with contextlib.suppress(sa.exc.DBAPIError):
                    self.heartbeat(run_id)

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def record_plan(self, run_id: str, chunks: Sequence[PlannedChunk]) -> None:
        """Store chunks of the run's plan (before their tasks are queued). A chunk planned
        already, by another launcher of the run in the meantime, must have been planned
        alike: otherwise the run's attempts would cut the file differently."""
        if not chunks:
            return
        rows = [{"run_id": run_id, "chunk_id": p.chunk_id, "byte_offset": p.span.byte_offset,
                 "byte_length": p.span.byte_length,
                 "first_record_no": p.span.first_record_no, "records": p.span.records,
                 "records_skipped": p.skipped, "records_read": p.read} for p in chunks]
        try:
            with self.engine.begin() as c:
                c.execute(sa.insert(mfp_plan), rows)
        except sa.exc.IntegrityError:
            stored = self.plan(run_id)
            differing = [p for p in chunks if stored.get(p.chunk_id, p) != p]
            if differing:
                first = differing[0]
                raise RunError(run_id, f"chunk {first.chunk_id} was planned as "
                                       f"{stored[first.chunk_id].describe()} by another "
                                       f"launcher, and now as {first.describe()}",
                               EXIT_USAGE) from None
            self.record_plan(run_id, [p for p in chunks if p.chunk_id not in stored])

    def remove_unledgered(self, run_id: str, staging: sa.Table) -> None:
        """Remove the rows of the run's chunks that are not in its ledger, from staging and
        the chunk-keyed control tables, before a resumed run loads those chunks again.
        Only a loader that commits a chunk's rows apart from its ledger row leaves any
        (Oracle's Direct Path Load commits each table on its own); for the others this
        finds nothing."""
        ledgered = sa.select(mfp_chunk.c.chunk_id).where(mfp_chunk.c.run_id == run_id)
        with self.engine.begin() as c:
            for table in (staging, mfp_reject, mfp_nulled, mfp_chunk_proof):
                c.execute(sa.delete(table).where(table.c.run_id == run_id,
                                                 table.c.chunk_id.not_in(ledgered)))

    def end_sessions(self, run_id: str, timeout_s: float = 10.0) -> None:
        """End the database sessions a dead launcher of ``run_id`` left behind, and wait
        until they are gone, so that its ledger no longer changes.

        A launcher killed while its writer was committing a chunk, or while it promoted,
        leaves the server to finish that transaction after the launcher is gone; a restart
        that read the ledger in that moment would load the chunk again, and its own
        promotion would wait on the dead one's locks. PostgreSQL names the writers' and the
        launcher's sessions after their run (:func:`mfpipe.db.urls.session_url`). A SQLite
        writer dies with its process (its transaction is rolled back or committed, nothing
        in between); Oracle sessions are not looked up (that needs V$SESSION privileges)."""
        sessions = self.dialect.sessions(session_name(run_id))
        if sessions is None:
            return
        deadline = time.monotonic() + timeout_s
        with self.engine.connect() as c:
            pids = list(c.execute(sessions).scalars())
            for pid in pids:
                try:
                    c.execute(self.dialect.end_session(pid))
                except sa.exc.DBAPIError:  # another role's session: wait for it instead
                    c.rollback()
            while pids and time.monotonic() < deadline:
                time.sleep(0.05)
                c.rollback()  # pg_stat_activity is a snapshot taken once per transaction
                pids = list(c.execute(sessions).scalars())
        if pids:
            raise RunError(run_id, f"database sessions {pids} of the run's earlier launcher "
                                   "are still open and could not be ended; try again once "
                                   "they are gone", EXIT_TEMPORARY)

    def complete(self, connection: sa.Connection, run_id: str, replaces: Sequence[str] = ()
                 ) -> None:
        """End a run COMPLETED inside its publishing transaction (``connection``), after its
        rows were promoted and proved: the runs it replaces (their rows removed by
        promotion) and the other unpublished runs of its identity become ABANDONED.

        Refused (:class:`RunError`, and the caller rolls back) when the store's attempt no
        longer owns the run, or when another run of the same identity is published and not
        replaced: the final table never holds one content twice."""
        run = read_run(connection, run_id)
        assert run is not None  # the run publishing
        twins = connection.execute(sa.select(mfp_run.c.run_id).where(
            LoadIdentity.of_run(run).runs(), mfp_run.c.status == COMPLETED,
            mfp_run.c.run_id.not_in([run_id, *replaces]))).scalars().first()
        if twins is not None:
            raise RunError(run_id, f"run {twins} has published the same content already; "
                                   "nothing was published twice", EXIT_USAGE)
        done = connection.execute(self._fenced(run_id).where(mfp_run.c.status == STARTED)
                                  .values(status=COMPLETED, exit_code=0, ended_at=utcnow(),
                                          heartbeat_at=utcnow(), message=""))
        if done.rowcount != 1:
            now = read_run(connection, run_id)
            if now is not None and now.status == STOPPING and self._lease in (
                    None, (run_id, now.attempt)):  # `runs cancel` just before the end
                raise stopped_during_publication(run_id)
            raise RunError(run_id, "another launcher took the run over (it was restarted "
                                   "while this one was stopped); nothing was published",
                           EXIT_TEMPORARY)
        if abandon(connection, replaces, run_id, (COMPLETED,)) != len(set(replaces)):
            raise RunError(run_id, "a run it replaces is no longer published (another load "
                                   "replaced it meanwhile); nothing was published",
                           EXIT_TEMPORARY)
        superseded = connection.execute(sa.select(mfp_run.c.run_id).where(
            LoadIdentity.of_run(run).runs(), mfp_run.c.status.in_(RESTARTABLE))).scalars()
        abandon(connection, list(superseded), run_id)

    def save_checks(self, run_id: str, results: Sequence[Mapping[str, Any]],
                    within: sa.Connection | None = None) -> None:
        """Replace the run's stored check results with ``results`` (each: check_name,
        check_type, expected, actual, discrepancy, passed, severity, details as a list and
        proof: how it was measured, kept in the details column's JSON beside them),
        in the caller's transaction ``within`` (the publication's) or in one of its own."""
        if within is None:
            with self.engine.begin() as connection:
                return self.save_checks(run_id, results, connection)
        now, width = utcnow(), CHECK_TEXT
        rows = [{"run_id": run_id, "position": i, "check_name": r["check_name"][:100],
                 "check_type": r["check_type"], "expected": r["expected"][:width],
                 "actual": r["actual"][:width], "discrepancy": r["discrepancy"][:width],
                 "passed": r["passed"], "severity": r["severity"],
                 "details": json.dumps({"details": list(r["details"]),
                                        "proof": r.get("proof", "")}), "checked_at": now}
                for i, r in enumerate(results)]
        within.execute(sa.delete(mfp_recon_result).where(mfp_recon_result.c.run_id == run_id))
        if rows:
            within.execute(sa.insert(mfp_recon_result), rows)

    def connect(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """A connection to the run's database, for the data tables (staging and final)
        that the checks measure; the control tables are read and written by this store."""
        return self.engine.connect()

    def close(self) -> None:
        self.engine.dispose()


def stopped_during_publication(run_id: str) -> RunError:
    """A run stopped while it published (SIGTERM, SIGINT or ``runs cancel``): 143, and its
    transaction rolled back."""
    return RunError(run_id, "stopped during publication (SIGTERM, SIGINT or `runs cancel`): "
                            "nothing was published and every record is in staging; `mfpipe "
                            f"restart {run_id}` publishes it", EXIT_STOPPED)


def attempt_totals(connection: sa.Connection, run_id: str) -> dict[str, float]:
    """The run's wall time and CPU over all its attempts, for ``mfp_run``."""
    a = mfp_attempt.c
    elapsed, cpu = connection.execute(sa.select(sa.func.sum(a.elapsed_s), sa.func.sum(
        a.cpu_s)).where(a.run_id == run_id)).one()
    return {"elapsed_s": round(float(elapsed or 0), 3), "cpu_s": round(float(cpu or 0), 3)}


def begin_attempt(connection: sa.Connection, run_id: str, attempt: int, command: str,
                  **values: Any) -> None:
    """A launcher's attempt at a run begins (``values``: host, pid)."""
    connection.execute(mfp_attempt.insert().values(run_id=run_id, attempt=attempt,
                                                   command=command, started_at=utcnow(),
                                                   status=STARTED, **values))


def insert_run(connection: sa.Connection, run_id: str, **values: Any) -> None:
    """A new run's row, STARTING, owned by its first attempt."""
    now = utcnow()
    connection.execute(mfp_run.insert().values(run_id=run_id, status=STARTING, attempt=1,
                                               started_at=now, heartbeat_at=now, **values))


def abandon(connection: sa.Connection, run_ids: Sequence[str], superseded_by: str | None,
            statuses: Sequence[str] = RESTARTABLE) -> int:
    """Make the runs among ``run_ids`` that are in ``statuses`` ABANDONED: superseded by
    another run's load of their content (or given up by an operator when ``superseded_by``
    is None); return how many. An abandoned run is never restarted and never publishes;
    its staging rows wait for ``runs purge``. A published run is abandoned only by the
    publication that replaced its rows (``statuses`` COMPLETED)."""
    if not run_ids:
        return 0
    text = (f"superseded by run {superseded_by}" if superseded_by
            else "abandoned by an operator")
    r = mfp_run.c
    return int(connection.execute(mfp_run.update().where(
        r.run_id.in_(sorted(set(run_ids))), r.status.in_(statuses)).values(
        status=ABANDONED, superseded_by=superseded_by, message=text,
        ended_at=sa.func.coalesce(r.ended_at, utcnow()))).rowcount)
