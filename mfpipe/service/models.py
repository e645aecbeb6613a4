"""The API's requests and responses (pydantic): what OpenAPI at ``/docs`` describes."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class JobItem(BaseModel):
    """A job file of the jobs folder (relative to it); ``input``: one of the files it names
    (default: every file it names)."""

    model_config = ConfigDict(extra="forbid")
    job_file: str = Field(min_length=1, max_length=1000)
    input: str | None = Field(default=None, max_length=1000)


class LaunchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: list[JobItem] = Field(min_length=1, max_length=1000)
    parallel: bool = True
    max_workers: int = Field(default=2, ge=1, le=32)
    stop_on_error: bool = False


class Launched(BaseModel):
    batch_id: str
    status: str
    operations: int


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int


class Batch(BaseModel):
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
    message: str | None
    operations: dict[str, int] = Field(description="operations per status")


class Operation(BaseModel):
    op_no: int
    job: str
    job_file: str
    input_path: str
    status: str
    tries: int
    exit_code: int | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    run_ids: list[str]
    message: str | None


class RunProgress(BaseModel):
    run_id: str
    file: str
    status: str
    phase: str
    chunks: int
    records_read: int
    records_loaded: int
    records_rejected: int
    bytes_done: int
    file_bytes: int | None
    fraction: float | None = Field(description="of the file's bytes in committed chunks")
    records_per_s: float | None
    eta_s: float | None


class OperationProgress(BaseModel):
    op_no: int
    input_path: str
    status: str
    runs: list[RunProgress]


class BatchProgress(BaseModel):
    batch_id: str
    status: str
    operations: list[OperationProgress]
    records_read: int
    records_loaded: int
    records_rejected: int
    fraction: float | None


class Retried(BaseModel):
    batch_id: str
    retried: int


class Deleted(BaseModel):
    batch_id: str
    purged_runs: int
    purged_rows: int


class Run(BaseModel):
    run_id: str
    job: str
    file: str
    status: str
    exit_code: int | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    records_read: int | None
    records_loaded: int | None
    records_rejected: int | None
    elapsed_s: float | None
    message: str | None


class RunDetail(BaseModel):
    run: dict[str, Any]
    attempts: list[dict[str, Any]]
    chunks: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    purged: dict[str, Any] | None


class Reject(BaseModel):
    record_no: int
    chunk_id: int
    byte_offset: int
    field: str | None
    column_name: str | None
    field_offset: int | None
    reason: str
    raw_hex: str


class Accepted(BaseModel):
    message: str


class Day(BaseModel):
    day: dt.date
    runs: int
    completed: int
    failed: int
    records_read: int
    records_rejected: int


class Statistics(BaseModel):
    since: dt.datetime | None
    until: dt.datetime | None
    runs: int
    success_rate: float
    mean_elapsed_s: float
    records_per_s: float
    reject_rate: float
    days: list[Day]
    failing_checks: list[dict[str, Any]]


ReportFormat = Literal["json", "html", "text"]
ExportFormat = Literal["json", "csv"]
