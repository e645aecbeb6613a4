"""The reader as the run's planner: each chunk's plan entry is stored before its task is
queued, and every attempt, on either executor, must cut the file into the chunks planned."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sqlalchemy as sa

from mfpipe.db.runs import RunStore
from mfpipe.framing import FramingOptions, reframe
from tests.jobs.support import LAYOUT, main_json

pytest.importorskip("distributed")

ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--recfm", "VB",
        "--chunk-records", "500", "--skip-records", "250"]


@pytest.fixture
def failed_run(tmp_path) -> tuple[str, str, str]:
    """A VB file in BDW blocks whose second bad record (of records 1028, 2154, 9737) fails
    the run part-way (--max-errors 1): (file, database URL, run id), the run restartable."""
    path = str(tmp_path / "in.vb")
    assert main_json(["gen", LAYOUT, "-o", path, "--records", "12000", "--recfm", "vb",
                      "--bdw", "--bad", "3", "--seed", "3", "--date", "open_date=YYYYMMDD"],
                     tmp_path)[0] == 0
    db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    code, summary = main_json(["run", "--input", path, "--db", db_url, *ARGS, "--bdw",
                               "--max-errors", "1"], tmp_path)
    counts = summary["counts"]
    assert code == 65 and counts["chunks_committed"] < counts["chunks"], summary
    return path, db_url, summary["run_id"]


def test_every_attempt_cuts_the_file_as_planned(tmp_path, failed_run):
    """The chunks a failed run committed were planned first; a restart on the cluster
    keeps that plan, and the ledger ends as the plan says: each chunk's records, from the
    span alone (the window cuts the first chunk)."""
    path, db_url, run_id = failed_run
    store = RunStore(db_url)
    first = store.plan(run_id)
    committed = {c.chunk_id for c in store.ledger(run_id)}
    assert committed <= set(first)
    code, shown = main_json(["runs", "show", run_id, "--db", db_url], tmp_path)
    assert shown["planned"] == len(first) and [c["chunk_id"] for c in shown["to_load"]] == \
        sorted(set(first) - committed) != [], shown["to_load"]
    assert shown["not_loaded"] == len(shown["to_load"])
    code, summary = main_json(["restart", run_id, "--db", db_url, "--max-errors", "10",
                               "--executor", "dask", "--processors", "2"], tmp_path)
    assert code == 0 and summary["reconciliation"]["passed"], summary
    plan, ledger = store.plan(run_id), store.ledger(run_id)
    store.close()
    assert {k: plan[k] for k in first} == first and set(plan) == {c.chunk_id for c in ledger}
    data = np.fromfile(path, dtype=np.uint8)
    framing = FramingOptions("VB", bdw=True)
    for chunk in ledger:
        entry = plan[chunk.chunk_id]
        span = entry.span
        assert (span.first_record_no + entry.skipped, entry.read) == (chunk.first_record_no,
                                                                      chunk.records)
        own = reframe(data[span.byte_offset:span.byte_offset + span.byte_length], span, framing)
        assert own.n_records == span.records
    assert plan[0].skipped == 250 and sum(e.read for e in plan.values()) == 11_750


@pytest.mark.parametrize("changes, message, loads_it", [
    (["UPDATE mfp_plan SET byte_length = byte_length + 4 WHERE chunk_id = :chunk"],
     "chunk {chunk} of .* was planned as bytes .* and frames now as bytes", False),
    (["INSERT INTO mfp_plan SELECT run_id, 99, byte_offset, byte_length, first_record_no, "
      "records, records_skipped, records_read FROM mfp_plan WHERE chunk_id = :chunk"],
     # found once the file is framed: chunks still in flight then may or may not commit
     "chunk 99 of .* was planned as .* and is not in the file now", None),
    # a run begun before plans were kept: its ledger says where its chunks were cut
    (["DELETE FROM mfp_plan", "UPDATE mfp_chunk SET byte_offset = byte_offset + 4 "
                              "WHERE chunk_id = 0"],
     "chunk 0 of .* was committed as bytes .* and frames now as bytes", False)],
    ids=["cut-otherwise", "planned-beyond-the-file", "committed-elsewhere"])
def test_an_attempt_that_cuts_the_file_otherwise_fails(tmp_path, failed_run, changes, message,
                                                       loads_it):
    """A plan, or a ledger, the file no longer frames into (another mfpipe's framing, say):
    the restart ends FAILED (64) naming the chunk and both cuts; a chunk planned otherwise
    is never loaded."""
    _, db_url, run_id = failed_run
    store = RunStore(db_url)
    chunk = min(set(store.plan(run_id)) - {c.chunk_id for c in store.ledger(run_id)})
    with store.engine.begin() as c:
        for change in changes:
            c.execute(sa.text(change), {"chunk": chunk})
    code, summary = main_json(["restart", run_id, "--db", db_url, "--max-errors", "10"],
                              tmp_path)
    assert code == 64 and summary["status"] == "FAILED", summary
    assert re.search(message.format(chunk=chunk), summary["message"]), summary
    if loads_it is not None:
        assert (chunk in {c.chunk_id for c in store.ledger(run_id)}) == loads_it
    store.close()
