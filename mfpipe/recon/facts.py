"""The report's facts about a run, read from the control tables: who did what, what was refused."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from mfpipe.db.control import mfp_chunk, mfp_nulled, mfp_reject
from mfpipe.db.runs import RESTARTABLE
from mfpipe.db.urls import redact
from mfpipe.errors import EXIT_CONFIG, EXIT_DATA, EXIT_NO_INPUT
from mfpipe.recon.model import (AttemptInfo, Counts, RejectGroup, RejectSample, RunInfo,
                                WorkerStats)
from mfpipe.recon.subject import RunSubject

SAMPLES = 3
HEX_SHOWN = 64  # characters of a reject's raw bytes shown in a report


def run_info(subject: RunSubject) -> RunInfo:
    run = subject.run
    return RunInfo(subject.run_id, run["job"], run["file"], run["status"], run["exit_code"],
                   run["message"] or "", _iso(run["started_at"]), _iso(run["ended_at"]),
                   float(run["elapsed_s"] or 0.0), float(run["cpu_s"] or 0.0),
                   redact(subject.store.url), subject.staging.name, subject.final.name)


def counts(subject: RunSubject) -> Counts:
    run = subject.run
    n = mfp_nulled.c
    nulled = subject.rows(sa.select(n.column_name, sa.func.sum(n.fields))
                          .where(n.run_id == subject.run_id).group_by(n.column_name)
                          .order_by(n.column_name))
    return Counts(int(run["records_read"] or 0), int(run["records_loaded"] or 0),
                  int(run["records_rejected"] or 0), int(run["records_discarded"] or 0),
                  subject.final_rows, int(run["records_skipped"] or 0),
                  {str(column): int(fields) for column, fields in nulled})


def worker_stats(subject: RunSubject, attempts: list[dict]) -> list[WorkerStats]:
    """Per worker, from the ledger: records read, loaded, rejected, chunks; and records/s
    over the worker's own decoding time, as each attempt's metrics recorded it."""
    c = mfp_chunk.c
    query = (sa.select(c.worker_id, sa.func.sum(c.last_record_no - c.first_record_no + 1),
                       sa.func.sum(c.rows_loaded), sa.func.sum(c.rows_rejected), sa.func.count())
             .where(c.run_id == subject.run_id).group_by(c.worker_id).order_by(c.worker_id))
    busy: dict[int, float] = {}
    for attempt in attempts:
        for worker, metric in json.loads(attempt["metrics"] or "{}").items():
            busy[int(worker)] = busy.get(int(worker), 0.0) + float(metric.get("busy_s", 0))
    return [WorkerStats(int(w), int(r), int(lo), int(rj), int(n),
                        round(int(r) / busy[int(w)], 1) if busy.get(int(w)) else 0.0,
                        round(busy.get(int(w), 0.0), 3))
            for w, r, lo, rj, n in subject.rows(query)]


def attempt_info(attempts: list[dict]) -> list[AttemptInfo]:
    """Every attempt at the run, first to last."""
    return [AttemptInfo(int(a["attempt"]), a["command"], _iso(a["started_at"]),
                        _iso(a["ended_at"]), a["status"], a["exit_code"],
                        int(a["records_loaded"] or 0), float(a["elapsed_s"] or 0),
                        float(a["load_s"] or 0), float(a["publish_s"] or 0),
                        float(a["cpu_s"] or 0)) for a in attempts]


def reject_groups(subject: RunSubject) -> list[RejectGroup]:
    """Rejects grouped by reason and field, most frequent first, with a few samples each."""
    r = mfp_reject.c
    groups = subject.rows(sa.select(r.reason, r.field, sa.func.count().label("n"))
                          .where(r.run_id == subject.run_id).group_by(r.reason, r.field)
                          .order_by(sa.desc("n"), r.reason))
    found = []
    for reason, field, n in groups:
        samples = subject.rows(
            sa.select(r.record_no, r.byte_offset, r.field, r.raw_hex)
            .where(r.run_id == subject.run_id, r.reason == reason,
                   r.field.is_(None) if field is None else r.field == field)
            .order_by(r.record_no).limit(SAMPLES))
        found.append(RejectGroup(reason, field or "", int(n), tuple(
            RejectSample(int(s[0]), int(s[1]), s[2] or "", _shorten(s[3])) for s in samples)))
    return found


def restart_hint(subject: RunSubject) -> str:
    """What to do about a run that did not complete, by why it stopped: a restart only
    helps when something outside the data stopped it (a process, the database, a stop)."""
    run, db = subject.run, redact(subject.store.url)
    if run["status"] not in RESTARTABLE:
        return ""
    if run["exit_code"] == EXIT_DATA:  # the data: the same file fails the same way again
        return (f"the data failed its checks or the error limit; a restart would fail the "
                f"same way. Fix the file (then `mfpipe reprocess {run['file']}`) or the "
                f"job's options (`mfpipe reprocess` with them), or give the run up: "
                f"`mfpipe runs abandon {subject.run_id} --db {db}`")
    if run["exit_code"] in (EXIT_NO_INPUT, EXIT_CONFIG):
        return ("the file or the options were not usable (see the message): correct them "
                f"and load the file with `mfpipe reprocess`, or `mfpipe runs abandon "
                f"{subject.run_id} --db {db}`")
    return (f"mfpipe restart {subject.run_id} --db {db}  (loads only the chunks missing "
            "from the ledger)")


def _shorten(raw_hex: str) -> str:
    return raw_hex if len(raw_hex) <= HEX_SHOWN else raw_hex[:HEX_SHOWN] + "..."


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value else ""
