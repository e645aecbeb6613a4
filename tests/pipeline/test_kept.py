"""The bad and discard files: each rejected record once, in record order, whatever failed and
restarted meanwhile (a chunk committed without its bytes kept is decoded again, never loaded
again); an earlier run's bad file under the same name is replaced, not appended to."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from mfpipe.cli import main
from mfpipe.db.explorer import ChunkRecord
from mfpipe.errors import OutputError
from mfpipe.pipeline.kept import Kept, Outputs
from tests.jobs.support import LAYOUT, keyed_file, last_json
from tests.support import query

LRECL = 100
ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--processors", "2",
        "--writers", "2", "--chunk-records", "500", "--json"]


def ledger_row(chunk_id: int, rejected: int, discarded: int = 0) -> ChunkRecord:
    return ChunkRecord("r1", chunk_id, 1, 0, 0, 1, 1, 0, rejected, discarded, "COMMITTED",
                       dt.datetime(2026, 1, 1), "0", "{}")


class TestOutputs:
    def test_parts_are_assembled_in_chunk_order_over_an_earlier_file(self, tmp_path):
        bad = tmp_path / "in.bad"
        bad.write_bytes(b"an earlier run's rejects")
        outputs = Outputs("r1", str(bad), None)
        for chunk in (3, 1, 2):
            outputs.keep(chunk, Kept(1, f"<{chunk}>".encode()), Kept(0, b""))
        outputs.assemble([1, 3])  # chunk 2 not committed: not in the file
        assert bad.read_bytes() == b"<1><3>"
        outputs.assemble([1, 2, 3])
        assert bad.read_bytes() == b"<1><2><3>"
        outputs.remove_parts()  # the run is completed
        assert [p.name for p in tmp_path.iterdir()] == ["in.bad"]

    def test_a_chunk_committed_without_its_part_is_missing(self, tmp_path):
        outputs = Outputs("r1", str(tmp_path / "in.bad"), str(tmp_path / "in.dsc"))
        outputs.keep(1, Kept(2, b"ab"), Kept(0, b""))
        assert not outputs.missing(ledger_row(1, rejected=2))
        assert outputs.missing(ledger_row(1, rejected=2, discarded=1))  # its discards: no
        assert outputs.missing(ledger_row(2, rejected=1))
        assert not outputs.missing(ledger_row(3, rejected=0))
        # without --when, discards (another segment's records) keep no bytes
        assert not Outputs("r1", str(tmp_path / "in.bad"), None).missing(
            ledger_row(1, rejected=2, discarded=5))

    def test_a_run_without_rejects_empties_an_earlier_file_and_makes_none(self, tmp_path):
        old, new = tmp_path / "old.bad", tmp_path / "new.bad"
        old.write_bytes(b"an earlier run's rejects")
        for path in (old, new):
            Outputs("r1", str(path), None).assemble([1, 2])
        assert old.read_bytes() == b"" and not new.exists()

    def test_a_linked_bad_file_has_its_target_replaced(self, tmp_path):
        (tmp_path / "store").mkdir()
        target = tmp_path / "store" / "day.bad"
        target.write_bytes(b"old")
        link = tmp_path / "day.bad"
        link.symlink_to(target)
        outputs = Outputs("r1", str(link), None)
        outputs.check()
        outputs.keep(1, Kept(1, b"new"), Kept(0, b""))
        outputs.assemble([1])
        assert link.is_symlink() and target.read_bytes() == b"new"

    def test_an_output_that_is_no_regular_file_is_refused(self):
        with pytest.raises(OutputError, match="not a regular file"):
            Outputs("r1", "/dev/null", None).check()


def bad_records_file(path, n: int = 3_000, every: int = 100) -> tuple[str, bytes]:
    """An FB file with a bad packed digit in every ``every``-th record, and the bytes of
    those records in record order (what its bad file must hold)."""
    keyed_file(path, n)
    data = bytearray(path.read_bytes())
    for record in range(0, n, every):
        data[record * LRECL + 53] = 0xFF
    path.write_bytes(bytes(data))
    return str(path), b"".join(bytes(data[r * LRECL:(r + 1) * LRECL])
                               for r in range(0, n, every))


def records(data: bytes) -> list[bytes]:
    assert len(data) % LRECL == 0
    return [data[i:i + LRECL] for i in range(0, len(data), LRECL)]


def cli(capsys, *args: str) -> tuple[int, dict]:
    code = main(list(args))
    return code, last_json(capsys.readouterr().out)


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_restart_keeps_every_reject_once_in_record_order(tmp_path, db_url, capsys,
                                                            executor):
    """A run stopped by its error limit; the bytes its committed chunks kept are then lost
    (as when a cluster's launcher dies between a task's commit and its report): the
    restart decodes those chunks again for them, loads nothing twice, and the bad file
    holds each of the 30 rejected records once, in record order."""
    path, rejected = bad_records_file(tmp_path / "in.dat")
    bad = tmp_path / "in.bad"
    bad.write_bytes(b"yesterday's rejects")
    code, failed = cli(capsys, "run", "--input", path, *ARGS, "--db", db_url,
                       "--bad-file", str(bad), "--max-errors", "5")
    assert code == 65
    held = records(bad.read_bytes())  # what the failed attempt committed, in record order
    every = records(rejected)
    assert held and [every.index(r) for r in held] == sorted(every.index(r) for r in held)
    committed = query(db_url, "SELECT count(*) FROM mfp_chunk")[0][0]
    for parts in tmp_path.glob(".mfpipe-*.parts"):
        shutil.rmtree(parts)
    code, done = cli(capsys, "restart", failed["run_id"], "--db", db_url, "--max-errors",
                     "100", "--executor", executor, "--json")
    assert code == 0, done
    assert done["counts"]["rejected"] == 30 and done["counts"]["loaded"] == 2_970
    assert bad.read_bytes() == rejected
    assert not list(tmp_path.glob(".mfpipe-*"))  # no part, no temporary file left
    assert query(db_url, "SELECT count(*), count(DISTINCT cust_id) FROM customer_account") \
        == [(2_970, 2_970)]
    assert query(db_url, "SELECT count(*) FROM mfp_chunk")[0][0] == 6 > committed


def test_discarded_records_are_kept_like_rejected_ones(tmp_path, db_url, capsys):
    """With --when, the discard file holds each discarded record once, in record order,
    after a restart that lost its parts too."""
    path, rejected = bad_records_file(tmp_path / "in.dat")
    data = open(path, "rb").read()
    code, failed = cli(capsys, "run", "--input", path, *ARGS, "--db", db_url,
                       "--bad-file", str(tmp_path), "--max-errors", "2",
                       "--when", "cust_id > 2500")
    assert code == 65
    for parts in tmp_path.glob(".mfpipe-*.parts"):
        shutil.rmtree(parts)
    code, done = cli(capsys, "restart", failed["run_id"], "--db", db_url, "--max-errors",
                     "100", "--json")
    assert code == 0, done
    # the condition reads cust_id alone: a record it leaves out is discarded, bad or not
    name = f"in.dat.{failed['run_id']}"
    assert (tmp_path / f"{name}.dsc").read_bytes() == data[:2_500 * LRECL]
    assert (tmp_path / f"{name}.bad").read_bytes() == rejected[-5 * LRECL:]
