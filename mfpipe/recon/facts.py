"""The report's facts about a run, read from the control tables: who did what, what was refused."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from mfpipe.db.explorer import AttemptRecord
from mfpipe.db.status import RESTARTABLE
from mfpipe.db.urls import redact
from mfpipe.errors import EXIT_CONFIG, EXIT_DATA, EXIT_NO_INPUT
from mfpipe.recon.model import (AttemptInfo, Counts, RejectGroup, RejectSample, RunInfo,
                                WorkerStats)
from mfpipe.recon.subject import RunSubject

SAMPLES = 3
HEX_SHOWN = 64  # characters of a reject's raw bytes shown in a report


def run_info(subject: RunSubject) -> RunInfo:
    run = subject.run
    return RunInfo(subject.run_id, run.job, run.file, run.status, run.exit_code,
                   run.message or "", _iso(run.started_at), _iso(run.ended_at),
                   float(run.elapsed_s or 0.0), float(run.cpu_s or 0.0),
                   redact(subject.store.url), subject.staging.name, subject.final.name)


def counts(subject: RunSubject, final_rows: int) -> Counts:
    """The run's counts; ``final_rows``: how many final rows it last wrote."""
    run = subject.run
    nulled = subject.store.nulled(subject.run_id, subject.connection)
    return Counts(int(run.records_read or 0), int(run.records_loaded or 0),
                  int(run.records_rejected or 0), int(run.records_discarded or 0),
                  final_rows, int(run.records_skipped or 0),
                  nulled)


def final_rows(subject: RunSubject) -> int:
    """How many final rows the run last wrote, counted (for a report of stored checks)."""
    return int(subject.scalar(sa.select(sa.func.count()).where(subject.in_final)))


def worker_stats(subject: RunSubject, attempts: list[AttemptRecord]) -> list[WorkerStats]:
    """Per worker, from the ledger: records read, loaded, rejected, chunks; and records/s
    over the worker's own decoding time, as each attempt's metrics recorded it."""
    busy: dict[int, float] = {}
    for attempt in attempts:
        for worker, metric in json.loads(attempt.metrics or "{}").items():
            busy[int(worker)] = busy.get(int(worker), 0.0) + float(metric.get("busy_s", 0))
    return [WorkerStats(w, r, lo, rj, n, round(r / busy[w], 1) if busy.get(w) else 0.0,
                        round(busy.get(w, 0.0), 3))
            for w, r, lo, rj, n in subject.store.ledger_by_worker(subject.run_id,
                                                                   subject.connection)]


def attempt_info(attempts: list[AttemptRecord]) -> list[AttemptInfo]:
    """Every attempt at the run, first to last."""
    return [AttemptInfo(a.attempt, a.command, _iso(a.started_at), _iso(a.ended_at), a.status,
                        a.exit_code, int(a.records_loaded or 0), float(a.elapsed_s or 0),
                        float(a.load_s or 0), float(a.publish_s or 0), float(a.cpu_s or 0))
            for a in attempts]


def reject_groups(subject: RunSubject) -> list[RejectGroup]:
    """Rejects grouped by reason and field, most frequent first, with a few samples each."""
    return [RejectGroup(reason, field or "", n, tuple(
        RejectSample(int(s[0]), int(s[1]), s[2] or "", _shorten(s[3])) for s in samples))
        for reason, field, n, samples in subject.store.reject_groups(
            subject.run_id, SAMPLES, subject.connection)]


def restart_hint(subject: RunSubject) -> str:
    """What to do about a run that did not complete, by why it stopped: a restart only
    helps when something outside the data stopped it (a process, the database, a stop)."""
    run, db = subject.run, redact(subject.store.url)
    if run.status not in RESTARTABLE:
        return ""
    if run.exit_code == EXIT_DATA:  # the data: the same file fails the same way again
        return (f"the data failed its checks or the error limit; a restart would fail the "
                f"same way. Fix the file (then `mfpipe reprocess {run.file}`) or the "
                f"job's options (`mfpipe reprocess` with them), or give the run up: "
                f"`mfpipe runs abandon {subject.run_id} --db {db}`")
    if run.exit_code in (EXIT_NO_INPUT, EXIT_CONFIG):
        return ("the file or the options were not usable (see the message): correct them "
                f"and load the file with `mfpipe reprocess`, or `mfpipe runs abandon "
                f"{subject.run_id} --db {db}`")
    return (f"mfpipe restart {subject.run_id} --db {db}  (loads only the chunks missing "
            "from the ledger)")


def _shorten(raw_hex: str) -> str:
    return raw_hex if len(raw_hex) <= HEX_SHOWN else raw_hex[:HEX_SHOWN] + "..."


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value else ""
