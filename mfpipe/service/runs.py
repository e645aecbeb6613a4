"""The runs API: every run of the database, whoever started it (a batch or the CLI): list,
show, progress, report, rejects, and the operator's actions on one run."""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from mfpipe.db.status import RESTARTABLE
from mfpipe.errors import EXIT_TEMPORARY, EXIT_USAGE, RunError
from mfpipe.jobs.operations import cancel_run, existing_run, run_progress, show_run
from mfpipe.jobs.processes import run_cli, start_detached
from mfpipe.recon import ReconciliationService
from mfpipe.report import render
from mfpipe.service import models
from mfpipe.service.auth import Changer, Reader
from mfpipe.service.state import Pages, State, naive_utc

router = APIRouter(prefix="/runs", tags=["runs"])
RECONCILE_S = 3600.0  # the longest a reconciliation may take when asked from the API
_RECONCILING: set[str] = set()  # runs being reconciled for a request (one at a time each)
_RECONCILING_LOCK = threading.Lock()


@router.get("", response_model=models.Page[models.Run])
def list_runs(service: State, _: Reader, pages: Pages, status: str | None = None,
              job: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None) -> models.Page[models.Run]:
    """The newest runs first, filtered by status, job and start time."""
    where: dict[str, Any] = {"status": status.upper() if status else None, "job": job,
                             "since": naive_utc(since), "before": naive_utc(until)}
    runs = service.store.runs(**where, limit=pages.page_size, offset=pages.offset)
    return models.Page(items=[models.Run(**asdict(r)) for r in runs], page=pages.page,
                       page_size=pages.page_size, total=service.store.run_count(**where))


@router.get("/{run_id}", response_model=models.RunDetail)
def one_run(run_id: str, service: State, _: Reader) -> models.RunDetail:
    """The run with its options, attempts, ledger, first rejects and checks (as ``runs
    show``)."""
    return models.RunDetail(**show_run(service.store, run_id))


@router.get("/{run_id}/progress", response_model=models.RunProgress)
def progress(run_id: str, service: State, _: Reader) -> models.RunProgress:
    existing_run(service.store, run_id)
    return models.RunProgress(**run_progress(service.store, [run_id])[0])


@router.get("/{run_id}/report", response_model=None)
def report(run_id: str, service: State, _: Reader, format: models.ReportFormat = "json"
           ) -> Response:
    """The run's reconciliation report as its last reconciliation left it (as ``mfpipe
    report``)."""
    text = render(ReconciliationService(service.store).report(run_id), format)
    if format == "html":
        return HTMLResponse(text)
    if format == "text":
        return PlainTextResponse(text)
    return Response(text, media_type="application/json")


@router.get("/{run_id}/rejects", response_model=models.Page[models.Reject])
def rejects(run_id: str, service: State, _: Reader, pages: Pages) -> models.Page[models.Reject]:
    """The run's rejects in record order, with the raw bytes in hex."""
    existing_run(service.store, run_id)
    found = service.store.rejects(run_id, pages.page_size, pages.offset)
    return models.Page(items=[models.Reject(**r) for r in found], page=pages.page,
                       page_size=pages.page_size, total=service.store.reject_count(run_id))


@router.post("/{run_id}/reconcile", response_model=None)
def reconcile(run_id: str, service: State, _: Changer) -> JSONResponse:
    """Run every check on the run again (as ``mfpipe reconcile``, in a process of its own);
    the run summary, with ``reconciliation.passed``."""
    existing_run(service.store, run_id)
    with _RECONCILING_LOCK:
        if run_id in _RECONCILING:
            raise RunError(run_id, "is being reconciled already: wait for that one",
                           EXIT_TEMPORARY)
        _RECONCILING.add(run_id)
    try:
        code, summary = run_cli(service.settings.db_url, "reconcile", run_id,
                                timeout_s=RECONCILE_S)
    except subprocess.TimeoutExpired:
        raise RunError(run_id, f"reconcile took longer than {RECONCILE_S:.0f} s; it was "
                       "stopped", EXIT_TEMPORARY) from None
    finally:
        with _RECONCILING_LOCK:
            _RECONCILING.discard(run_id)
    if summary is None:
        raise RunError(run_id, f"reconcile ended with exit code {code} and no summary")
    if code not in (0, 65):
        raise RunError(run_id, str(summary.get("message") or "reconcile failed"), code)
    return JSONResponse(summary)


@router.post("/{run_id}/cancel", status_code=202, response_model=models.Accepted)
def cancel(run_id: str, service: State, _: Changer) -> models.Accepted:
    """Ask the run's launcher to stop at its next chunk boundary (as ``runs cancel``)."""
    return models.Accepted(message=cancel_run(service.store, run_id))


@router.post("/{run_id}/restart", status_code=202, response_model=models.Accepted)
def restart(run_id: str, service: State, _: Changer) -> models.Accepted:
    """Resume a FAILED or STOPPED run from its ledger (as ``mfpipe restart``, in a process
    of its own): only its missing chunks load, exactly once."""
    run = existing_run(service.store, run_id)
    if run.status not in RESTARTABLE:
        raise RunError(run_id, f"is {run.status}: only a FAILED or STOPPED run restarts",
                       EXIT_USAGE)
    start_detached(service.settings.db_url, "restart", run_id)
    return models.Accepted(message=f"run {run_id}: restarting")
