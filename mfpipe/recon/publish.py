"""Atomic publish: a loaded run reaches the final table only together with its proof.

Promotion, the final table's measure, every check and the run's COMPLETED status share one
transaction. The checks decide it: when every fail-severity check passes, the check results,
the promotion, the replaced runs' removal and COMPLETED commit together; otherwise the
transaction rolls back, the final table is as it was, and the run (FAILED, by the caller)
keeps its staging rows for inspection. A launcher killed on the way leaves no half: either
nothing was published, or the run is COMPLETED with its proof.

The staging side is the sum of what each chunk's writer measured inside the chunk's own
transaction (``mfp_chunk_proof``), with the business rules that look at many rows at once
(the key's uniqueness, dates) scanned; a run whose key repeats, or that has no chunk proofs,
has its staging scanned instead (:func:`mfpipe.recon.measures.measure_staging`). It is taken on
another connection while promotion writes, so the scans and the insert share the machine's
cores instead of taking turns; on SQLite in a process of its own, since a scan's hash calls
Python once per row and in a thread would contend for the GIL with the final side's.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from mfpipe.db.promote import promote
from mfpipe.db.runs import RunStore, stopped_during_publication
from mfpipe.db.status import STOPPING
from mfpipe.pipeline import forking, signals
from mfpipe.pipeline.processor import leave_with_launcher
from mfpipe.recon.measures import Measurements, measure_final, staging_side
from mfpipe.recon.model import ReconciliationReport
from mfpipe.recon.service import ReconciliationService, stored
from mfpipe.recon.subject import RunSubject


POLL_S = 0.2


def publish(store: RunStore, run_id: str) -> tuple[ReconciliationReport, float]:
    """Promote, prove and complete a loaded run in one transaction, or publish nothing
    (see the module docstring); return the report and the CPU seconds the staging side
    used in a process of its own. ``store`` holds the run's lease: a launcher whose run
    was taken over publishes nothing.

    The transaction runs in a thread of its own while the caller waits, so that SIGTERM and
    SIGINT (:mod:`mfpipe.pipeline.signals`) and ``runs cancel`` (the run's status STOPPING,
    looked at every second) are heard during a long promotion: they cancel the statement
    running on the publishing connection, the transaction rolls back, and the run stops
    (143) with nothing published, restartable."""
    subject = RunSubject.load(store, run_id)
    stopped = threading.Event()
    running: list[Any] = []  # the publishing connection's DBAPI connection, once open

    def stop() -> None:
        stopped.set()
        for raw in running:
            _cancel(raw)

    with signals.stopping(stop):
        if stopped.is_set():
            raise stopped_during_publication(run_id)
        with ThreadPoolExecutor(1, thread_name_prefix="publish") as runner:
            future = runner.submit(_publish, store, subject, running, stopped)
            polls = 0
            while True:
                try:
                    report, cpu_elsewhere = future.result(timeout=POLL_S)
                    break
                except TimeoutError:
                    polls += 1
                    if polls % 5 == 0 and _cancelled(store, run_id):  # `runs cancel`
                        stop()
                except Exception:
                    if stopped.is_set():
                        raise stopped_during_publication(run_id) from None
                    raise
    if not report.passed:
        store.save_checks(run_id, [stored(c) for c in report.checks])
    return report, cpu_elsewhere


def _publish(store: RunStore, subject: RunSubject, running: list[Any],
             stopped: threading.Event) -> tuple[ReconciliationReport, float]:
    """The publishing transaction (in the publish thread); a stop that came while no
    statement ran (nothing to cancel) is heard before the commit."""
    run_id, service = subject.run_id, ReconciliationService(store)
    pool: Executor = (ProcessPoolExecutor(1, mp_context=forking.context(),
                                          initializer=leave_with_launcher)
                      if store.dialect.measures_in_python
                      else ThreadPoolExecutor(1, thread_name_prefix="measure-staging"))
    with pool:
        staged = pool.submit(staging_side, store.url, run_id)
        with store.connect() as connection, connection.begin() as transaction:
            running.append(connection.connection.dbapi_connection)
            promote(connection, subject.staging, subject.final, run_id, subject.config.target.key,
                    subject.config.target.replaces)
            inside = subject.within(connection)
            final = measure_final(inside)
            side, cpu_elsewhere = staged.result()
            if not store.dialect.measures_in_python:  # a thread: the launcher's CPU counts it
                cpu_elsewhere = 0.0
            report = service.check(inside, Measurements(side, *final))
            if stopped.is_set():
                raise stopped_during_publication(run_id)  # rolls the transaction back
            if report.passed:
                store.save_checks(run_id, [stored(c) for c in report.checks], connection)
                store.complete(connection, run_id, subject.config.target.replaces)
            else:
                transaction.rollback()
            running.clear()
    return report, cpu_elsewhere


def _cancelled(store: RunStore, run_id: str) -> bool:
    """Has ``runs cancel`` asked the run to stop (status STOPPING)? A failed look is no."""
    try:
        run = store.run(run_id)
    except Exception:  # the database's trouble shows in the publishing transaction
        return False
    return run is not None and run.status == STOPPING


def _cancel(raw: Any) -> None:
    """Cancel what a DBAPI connection is executing, from another thread: psycopg and
    python-oracledb ``cancel()``, sqlite3 ``interrupt()``."""
    try:
        (getattr(raw, "cancel", None) or raw.interrupt)()
    except Exception:  # the statement ended meanwhile; the stop flag still decides
        pass

