"""Retention: which runs lose their staging rows to a purge, and what is recorded."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.db import retention
from mfpipe.db.control import mfp_purge, mfp_run
from mfpipe.db.loaders import open_loader
from mfpipe.db.runs import RunStore, insert_run, utcnow

SCHEMA = pa.schema([("acct", pa.int64())])
STAGING_SCHEMA = pa.schema([("run_id", pa.string()), ("worker_id", pa.int32()),
                            ("chunk_id", pa.int32()), ("record_no", pa.int64()), *SCHEMA])
# run id: (status, days since it ended, staging rows)
RUNS = {"r1": ("COMPLETED", 3, 4), "r2": ("ABANDONED", 3, 0), "r3": ("FAILED", 3, 2),
        "r4": ("STOPPED", 3, 1), "r5": ("COMPLETED", 0, 3), "r6": ("COMPLETED", 5, 2)}


def staged_runs(db_url: str) -> RunStore:
    """The runs of RUNS in mfp_run, with their staging rows in ``stg_book``."""
    store = RunStore(db_url)
    staging, _ = store.prepare("book", SCHEMA)
    rows = [{"run_id": r, "worker_id": 1, "chunk_id": 0, "record_no": i, "acct": i}
            for r, (_, _, n) in RUNS.items() for i in range(n)]
    with open_loader(db_url) as loader:
        loader.load(staging.name, pa.RecordBatch.from_pylist(rows, schema=STAGING_SCHEMA))
        loader.commit()
    with store.engine.begin() as c:
        for run_id in RUNS:
            insert_run(c, run_id, job="j", file="f.dat", staging_table=staging.name)
    for run_id, (status, days, _) in RUNS.items():
        store.update(run_id, status=status, ended_at=utcnow() - dt.timedelta(days=days))
    return store


def staging_counts(store: RunStore) -> dict[str, int]:
    staging = sa.table("stg_book", sa.column("run_id"))
    with store.engine.connect() as c:
        return dict(c.execute(sa.select(staging.c.run_id, sa.func.count())
                              .group_by(staging.c.run_id)).all())


class TestPurgeStaging:
    def test_only_old_finished_runs_are_purged_in_batches(self, db_url, monkeypatch):
        """COMPLETED and ABANDONED runs older than the cut are purged (one transaction per
        batch of runs) and recorded with their row counts; FAILED, STOPPED and recent runs
        keep their rows."""
        monkeypatch.setattr(retention, "BATCH_RUNS", 2)
        store = staged_runs(db_url)
        purged = retention.purge_staging(store, dt.timedelta(days=1))
        assert purged == [{"run_id": "r1", "staging_table": "stg_book", "rows": 4},
                          {"run_id": "r2", "staging_table": "stg_book", "rows": 0},
                          {"run_id": "r6", "staging_table": "stg_book", "rows": 2}]
        assert staging_counts(store) == {"r3": 2, "r4": 1, "r5": 3}
        with store.engine.connect() as c:
            recorded = c.execute(sa.select(mfp_purge.c.run_id, mfp_purge.c.rows_deleted)
                                 .order_by(mfp_purge.c.run_id)).all()
        assert [tuple(r) for r in recorded] == [("r1", 4), ("r2", 0), ("r6", 2)]
        assert store.purge("r1") is not None and store.purge("r5") is None
        assert retention.purge_staging(store, dt.timedelta(days=1)) == []
        store.close()

    def test_dry_run_counts_without_deleting(self, db_url):
        """A dry run names the same runs and rows, and changes nothing."""
        store = staged_runs(db_url)
        planned = retention.purge_staging(store, dt.timedelta(days=4), dry_run=True)
        assert planned == [{"run_id": "r6", "staging_table": "stg_book", "rows": 2}]
        assert staging_counts(store)["r6"] == 2
        with store.engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(mfp_purge)).scalar() == 0
            assert c.execute(sa.select(mfp_run.c.status).where(mfp_run.c.run_id == "r6")
                             ).scalar() == "COMPLETED"
        store.close()
