"""The batch API: launch job files in bulk, watch, cancel, retry, delete, export, and the
statistics of the runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import asdict

from fastapi import APIRouter, Response
from pydantic_core import to_json

from mfpipe.db.batches import BatchRecord, BatchStatus
from mfpipe.db.retention import purge_staging
from mfpipe.errors import EXIT_NO_INPUT, BatchError
from mfpipe.jobs.batches import Requested, plan, recover_batches, start_runner
from mfpipe.jobs.operations import run_progress, statistics
from mfpipe.service import models
from mfpipe.service.auth import Changer, Reader
from mfpipe.service.state import Pages, ServiceState, State, naive_utc

router = APIRouter(prefix="/batch", tags=["batches"])


@router.post("/jobs", status_code=202, response_model=models.Launched)
def launch(request: models.LaunchRequest, service: State, who: Changer) -> models.Launched:
    """Queue job files (of the jobs folder) for loading, one operation per input file, and
    start the batch's runner; returns at once."""
    settings = service.settings
    planned = plan(settings.jobs_dir, [Requested(j.job_file, j.input) for j in request.jobs],
                   settings.db_url)
    batch_id = service.batches.create(planned, request.parallel, request.max_workers,
                                      request.stop_on_error, who.name)
    start_runner(service.batches, settings.db_url, batch_id)
    return models.Launched(batch_id=batch_id, status=BatchStatus.QUEUED,
                           operations=len(planned))


@router.get("/jobs", response_model=models.Page[models.Batch])
def list_batches(service: State, _: Reader, pages: Pages, status: str | None = None,
                 job: str | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None) -> models.Page[models.Batch]:
    """The newest batches first, filtered by status, job (one of its operations') and
    creation time."""
    found, total = service.batches.batches(
        status=status.upper() if status else None, job=job, since=naive_utc(since),
        until=naive_utc(until), offset=pages.offset, limit=pages.page_size)
    counts = service.batches.op_counts([b.batch_id for b in found])
    return models.Page(items=[_batch(b, counts[b.batch_id]) for b in found], page=pages.page,
                       page_size=pages.page_size, total=total)


@router.get("/jobs/{batch_id}", response_model=models.Batch)
def one_batch(batch_id: str, service: State, _: Reader) -> models.Batch:
    batch = _existing(service, batch_id)
    return _batch(batch, service.batches.op_counts([batch_id])[batch_id])


@router.get("/jobs/{batch_id}/operations", response_model=models.Page[models.Operation])
def operations(batch_id: str, service: State, _: Reader, pages: Pages,
               status: str | None = None) -> models.Page[models.Operation]:
    """The batch's operations in order (of one status, if given), each with the runs its
    launcher worked on so far."""
    _existing(service, batch_id)
    found = [op for op in service.batches.operations(batch_id)
             if status is None or op.status == status.upper()]
    shown = found[pages.offset:pages.offset + pages.page_size]
    return models.Page(items=[models.Operation(**{**asdict(op),
                                                  "run_ids": service.batches.runs_of(op)})
                              for op in shown],
                       page=pages.page, page_size=pages.page_size, total=len(found))


@router.get("/jobs/{batch_id}/progress", response_model=models.BatchProgress)
def progress(batch_id: str, service: State, _: Reader) -> models.BatchProgress:
    """Each operation's runs as their ledgers commit: records, share of the file, rate and
    time left, phase."""
    batch = _existing(service, batch_id)
    shown = []
    for op in service.batches.operations(batch_id):
        found = run_progress(service.store, service.batches.runs_of(op))
        shown.append(models.OperationProgress(
            op_no=op.op_no, input_path=op.input_path, status=op.status,
            runs=[models.RunProgress(**r) for r in found]))
    runs = [r for op in shown for r in op.runs]
    sizes = [r.file_bytes for r in runs]
    done = sum(r.bytes_done for r in runs)
    whole = sum(s for s in sizes if s) if runs and all(sizes) else None
    return models.BatchProgress(
        batch_id=batch_id, status=batch.status, operations=shown,
        records_read=sum(r.records_read for r in runs),
        records_loaded=sum(r.records_loaded for r in runs),
        records_rejected=sum(r.records_rejected for r in runs),
        fraction=round(min(1.0, done / whole), 4) if whole else None)


@router.post("/jobs/{batch_id}/cancel", status_code=202, response_model=models.Accepted)
def cancel(batch_id: str, service: State, _: Changer) -> models.Accepted:
    """Stop launching the batch's operations, and stop the running ones at a chunk boundary
    (their runs end STOPPED: retry resumes them)."""
    batch = _existing(service, batch_id)
    now = service.batches.cancel(batch_id)
    if now is None:
        raise BatchError(batch_id, f"is {batch.status}: nothing to cancel")
    return models.Accepted(message=f"batch {batch_id}: cancelled" if now ==
                           BatchStatus.CANCELLED else f"batch {batch_id}: asked to stop")


@router.post("/jobs/{batch_id}/retry", status_code=202, response_model=models.Retried)
def retry(batch_id: str, service: State, _: Changer) -> models.Retried:
    """Run the failed, stopped and cancelled operations of a finished batch again; each
    resumes its run from the ledger, exactly once."""
    batch = _existing(service, batch_id)
    if not BatchStatus(batch.status).finished:
        raise BatchError(batch_id, f"is {batch.status}: retry a finished batch")
    again = service.batches.retry(batch_id)
    if not again:
        raise BatchError(batch_id, "has no failed, stopped or cancelled operation to retry, "
                         "or an operation's launcher still runs")
    start_runner(service.batches, service.settings.db_url, batch_id)
    return models.Retried(batch_id=batch_id, retried=again)


@router.delete("/jobs/{batch_id}", response_model=models.Deleted)
def delete(batch_id: str, service: State, _: Changer) -> models.Deleted:
    """Forget a finished batch and purge its runs' staging rows (as ``runs purge``: only of
    COMPLETED and ABANDONED runs); the runs' control history stays."""
    batch = _existing(service, batch_id)
    if not BatchStatus(batch.status).finished:
        raise BatchError(batch_id, f"is {batch.status}: cancel it first, or wait for its end")
    run_ids = [r for op in service.batches.operations(batch_id) for r in op.run_ids]
    purged = purge_staging(service.store, dt.timedelta(0), run_ids=run_ids)
    if not service.batches.delete(batch_id):
        raise BatchError(batch_id, "changed meanwhile: try again")
    return models.Deleted(batch_id=batch_id, purged_runs=len(purged),
                          purged_rows=sum(p["rows"] for p in purged))


@router.get("/jobs/{batch_id}/export")
def export(batch_id: str, service: State, _: Reader, format: models.ExportFormat = "json"
           ) -> Response:
    """The batch and its operations, as JSON or as CSV (one row per operation)."""
    batch = _existing(service, batch_id)
    ops = [asdict(op) for op in service.batches.operations(batch_id)]
    disposition = {"Content-Disposition": f'attachment; filename="{batch_id}.{format}"'}
    if format == "json":
        return Response(to_json({"batch": asdict(batch), "operations": ops}),
                        media_type="application/json", headers=disposition)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ops[0]) if ops else ["op_no"])
    writer.writeheader()
    for op in ops:
        writer.writerow({**op, "run_ids": " ".join(op["run_ids"])})
    return Response(out.getvalue(), media_type="text/csv", headers=disposition)


@router.get("/statistics", response_model=models.Statistics)
def stats(service: State, _: Reader, since: dt.datetime | None = None,
          until: dt.datetime | None = None) -> models.Statistics:
    """The runs started in a period (default: the last 30 days)."""
    since = naive_utc(since) or (dt.datetime.now(dt.UTC).replace(tzinfo=None)
                              - dt.timedelta(days=30))
    return models.Statistics(**statistics(service.store, since, naive_utc(until)))


def _existing(service: ServiceState, batch_id: str) -> BatchRecord:
    """The batch (a running one whose runner is gone: FAILED first), or 404."""
    recover_batches(service.batches, batch_id)
    batch = service.batches.batch(batch_id)
    if batch is None:
        raise BatchError(batch_id, "no such batch", EXIT_NO_INPUT)
    return batch


def _batch(batch: BatchRecord, counts: dict[str, int]) -> models.Batch:
    return models.Batch(**asdict(batch), operations=counts)

