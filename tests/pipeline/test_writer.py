"""The writer's transaction per chunk when the database's answer to COMMIT is lost: the
chunk committed or it did not, and the ledger (in the same transaction) says which; a
retry never fails on the chunk's own ledger row, never writes it twice."""

from __future__ import annotations

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec.rejects import empty_rejects
from mfpipe.db.control import mfp_chunk
from mfpipe.db.loaders import BulkLoader, open_loader
from mfpipe.db.runs import RunStore
from mfpipe.errors import TransientLoadError
from mfpipe.pipeline import writer
from mfpipe.pipeline.kept import Outputs
from mfpipe.pipeline.spec import WriteWork
from mfpipe.pipeline.tasks import ChunkResult

STAGING = "stg_t"


class AnswerLost:
    """A real loader whose first COMMIT commits, then loses its answer (as a server that
    crashes right after making the commit durable)."""

    lost = False

    def __init__(self, inner: BulkLoader) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def commit(self) -> None:
        self.inner.commit()
        if not AnswerLost.lost:
            AnswerLost.lost = True
            raise TransientLoadError("<commit>", -1, "server closed the connection unexpectedly")


def test_a_commit_whose_answer_is_lost_is_not_written_again(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = RunStore(url)
    schema = pa.schema([("run_id", pa.string()), ("worker_id", pa.int32()),
                        ("chunk_id", pa.int32()), ("record_no", pa.int64()), ("v", pa.int64())])
    store.prepare_control()
    with store.connect() as c:
        c.execute(sa.text(f"CREATE TABLE {STAGING} (run_id TEXT, worker_id INT, chunk_id INT, "
                          "record_no BIGINT, v BIGINT)"))
        c.commit()
    rows = pa.RecordBatch.from_pydict({"run_id": ["r1"] * 3, "worker_id": [1] * 3,
                                       "chunk_id": [7] * 3, "record_no": [1, 2, 3],
                                       "v": [10, 20, 30]}, schema=schema)
    result = ChunkResult(7, 1, 0, 300, 1, 3, rows, empty_rejects(), b"", 123, {})
    work = WriteWork("r1", url, None, False, 1, 30.0, Outputs("r1", str(tmp_path / "r1.bad"), None))
    monkeypatch.setattr(writer, "_open_loader", lambda w: AnswerLost(open_loader(w.db_url)))
    writer.commit_with_retry(work, STAGING, result, None).close()
    assert AnswerLost.lost
    with store.connect() as c:
        assert c.execute(sa.text(f"SELECT count(*) FROM {STAGING}")).scalar_one() == 3
        assert c.execute(sa.select(sa.func.count()).select_from(mfp_chunk)).scalar_one() == 1
    store.close()
