"""Retention of staging rows: staging keeps every run's rows until they are purged.

Without a purge, staging grows by a whole file every night, and so do the nightly scans
that read it (promotion and the staging measure select one run's rows from all of them) and
the disk it fills. A run's staging rows are needed while the run may be restarted,
reconciled again or narrowed down after a failed check; once it is COMPLETED (or ABANDONED:
replaced by a later load of its file) and old enough, only its final rows, its ledger,
rejects and check results are kept, and ``mfp_purge`` says when its staging rows went.
FAILED and STOPPED runs are never purged: they are waiting for a restart or an inspection.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from mfpipe.db.control import mfp_purge, mfp_run
from mfpipe.db.identifiers import check_identifier
from mfpipe.db.runs import RunStore, utcnow
from mfpipe.db.status import ABANDONED, COMPLETED

PURGEABLE = (COMPLETED, ABANDONED)
BATCH_RUNS = 500  # runs per transaction (Oracle takes at most 1,000 values in an IN list)


def purge_staging(store: RunStore, older_than: dt.timedelta, dry_run: bool = False,
                  run_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Delete the staging rows of the COMPLETED and ABANDONED runs that ended more than
    ``older_than`` ago and were not purged yet (of ``run_ids`` only, when given); return one
    entry per run (run id, staging table, rows). One transaction per staging table deletes
    its runs' rows and records them in ``mfp_purge`` (at most ``BATCH_RUNS`` runs at a
    time); ``dry_run`` only counts."""
    engine = store.engine
    runs = _purgeable(engine, utcnow() - older_than)
    if run_ids is not None:
        wanted = set(run_ids)
        runs = [(run_id, table) for run_id, table in runs if run_id in wanted]
    by_table: dict[str, list[str]] = defaultdict(list)
    for run_id, table in runs:
        by_table[table].append(run_id)
    batches = [(table, ids[i:i + BATCH_RUNS]) for table, ids in sorted(by_table.items())
               for i in range(0, len(ids), BATCH_RUNS)]
    purged = []
    for table, run_ids in batches:
        staging = sa.table(check_identifier(table, "staging table"), sa.column("run_id"))
        with engine.begin() as c:
            rows = _rows_per_run(c, staging, run_ids)
            if not dry_run:
                c.execute(sa.delete(staging).where(staging.c.run_id.in_(run_ids)))
                now = utcnow()
                c.execute(mfp_purge.insert(), [
                    {"run_id": r, "staging_table": table, "rows_deleted": rows[r],
                     "purged_at": now} for r in run_ids])
        purged += [{"run_id": r, "staging_table": table, "rows": rows[r]} for r in run_ids]
    return purged


def _purgeable(engine: sa.Engine, before: dt.datetime) -> list[tuple[str, str]]:
    """(run id, staging table) of the runs to purge, oldest first."""
    r = mfp_run.c
    ended = sa.func.coalesce(r.ended_at, r.started_at)
    query = (sa.select(r.run_id, r.staging_table)
             .where(r.status.in_(PURGEABLE), ended < before, r.staging_table.is_not(None),
                    ~sa.exists().where(mfp_purge.c.run_id == r.run_id))
             .order_by(r.run_id))
    with engine.connect() as c:
        return [(run_id, table) for run_id, table in c.execute(query)]


def _rows_per_run(connection: sa.Connection, staging: sa.TableClause, run_ids: list[str]
                  ) -> dict[str, int]:
    """Staging rows of each run (0 for a run with none left, e.g. an ABANDONED one)."""
    query = (sa.select(staging.c.run_id, sa.func.count()).where(staging.c.run_id.in_(run_ids))
             .group_by(staging.c.run_id))
    found = {run_id: int(n) for run_id, n in connection.execute(query)}
    return {run_id: found.get(run_id, 0) for run_id in run_ids}
