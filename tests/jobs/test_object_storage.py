"""Launches of objects in a store (``s3://``), on the local executor, against a real
S3-compatible server: what a night of files in a bucket goes through."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
from pathlib import Path

import pytest

from mfpipe.cli import main
from mfpipe.cli.demo import DEMO_LAYOUT
from tests.support import query

LAYOUT = str(DEMO_LAYOUT)
ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--chunk-records", "400",
        "--max-errors", "10", "--json"]
FINAL = ("cust_id, cust_name, branch_code, acct_type, open_date, balance, credit_limit, "
         "interest_rate, txn_count, last_txn_amount, status_code, risk_score, bonus_points")


def run(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*args])
    lines = out.getvalue().strip().splitlines()
    return code, json.loads(lines[-1]) if lines else {}


def generated(tmp_path: Path, name: str, records: int, seed: int) -> bytes:
    path = tmp_path / name
    assert main(["gen", LAYOUT, "-o", str(path), "--records", str(records), "--bad", "3",
                 "--seed", str(seed), "--date", "open_date=YYYYMMDD"]) == 0
    return path.read_bytes()


def records(path: str, size: int = 100) -> list[bytes]:
    data = Path(path).read_bytes()
    return sorted(data[at:at + size] for at in range(0, len(data), size))


@pytest.fixture
def prefix() -> str:
    return f"run-{secrets.token_hex(4)}"


def test_a_glob_of_objects_loads_as_the_same_local_files(tmp_path, db_url, object_store,
                                                        prefix, monkeypatch):
    """Two objects by a glob: each its own run, the same final rows, rejects and bad-file
    bytes as the same file loaded from disk; recorded by URL; the next launch finds them
    loaded (99); one object replaced, the next launch loads it (a new checksum) and skips
    the other; no local copy is left behind."""
    monkeypatch.setenv("MFPIPE_SPOOL", str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    (tmp_path / "bad").mkdir()
    for day in (1, 2):
        object_store.put(f"{prefix}/day{day}.dat", generated(tmp_path, f"day{day}.dat",
                                                             1_500 + day, day))
    launch = ["run", "--input", object_store.url(f"{prefix}/day*.dat"), "--db", db_url, *ARGS,
              "--bad-file", str(tmp_path / "bad")]
    code, summary = run(*launch)
    assert code == 0, summary
    assert [r["reconciliation"]["passed"] for r in summary["runs"]] == [True] * 2
    code, local = run("run", "--input", str(tmp_path / "day1.dat"), "--db", db_url, *ARGS,
                      "--job", "disk", "--final-table", "from_disk", "--staging-table",
                      "stg_from_disk")
    assert code == 0, local
    (from_store, _) = sorted(summary["runs"], key=lambda r: r["counts"]["loaded"])
    assert sorted(query(db_url, f"SELECT {FINAL} FROM customer_account WHERE last_run_id = "
                                f"'{from_store['run_id']}'")) == sorted(
        query(db_url, f"SELECT {FINAL} FROM from_disk"))
    rejects = "SELECT record_no, byte_offset, field, reason, raw_hex FROM mfp_reject WHERE " \
              "run_id = '{}'"
    assert sorted(query(db_url, rejects.format(from_store["run_id"]))) == sorted(
        query(db_url, rejects.format(local["run_id"])))
    assert records(from_store["bad_file"]) == records(local["bad_file"])  # in commit order
    assert Path(from_store["bad_file"]).parent == tmp_path / "bad"
    assert sorted(query(db_url, "SELECT path, status FROM mfp_file WHERE path LIKE 's3:%'")) \
        == [(object_store.url(f"{prefix}/day{d}.dat"), "SUCCESS") for d in (1, 2)]
    assert run(*launch)[0] == 99
    object_store.put(f"{prefix}/day2.dat", generated(tmp_path, "day2b.dat", 700, 9))
    code, again = run(*launch)
    assert code == 0 and [r["status"] for r in again["runs"]] == ["SKIPPED", "COMPLETED"], again
    assert again["runs"][1]["counts"]["loaded"] == 697
    assert not list((tmp_path / "spool").iterdir())


def test_a_run_whose_object_was_replaced_restarts_never(tmp_path, object_store, prefix,
                                                        monkeypatch):
    """A run fails part-way (too many errors); the object is replaced before the restart:
    the restart is refused (64), naming the object, and loads nothing of the new content
    into the old run; `run` then loads the new object afresh."""
    monkeypatch.setenv("MFPIPE_SPOOL", str(tmp_path))
    db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
    url = object_store.put(f"{prefix}/day.dat", generated(tmp_path, "day.dat", 3_000, 1))
    code, failed = run("run", "--input", url, "--db", db_url, *ARGS, "--max-errors", "1",
                       "--bad-file", str(tmp_path))
    assert (code, failed["status"]) == (65, "FAILED"), failed
    object_store.put(f"{prefix}/day.dat", generated(tmp_path, "other.dat", 3_000, 2))
    code, refused = run("restart", failed["run_id"], "--db", db_url, "--json")
    assert code == 64 and f"{url} has changed since the run began" in refused["message"]
    code, fresh = run("run", "--input", url, "--db", db_url, *ARGS, "--bad-file",
                      str(tmp_path))
    assert code == 0 and fresh["counts"]["loaded"] == 2_997, fresh


def test_an_object_needs_a_local_folder_for_its_bad_file(tmp_path, object_store, prefix):
    """No folder beside an object: its bad file's is named (78 without), and its discard
    file goes beside its bad file."""
    url = object_store.put(f"{prefix}/day.dat", generated(tmp_path, "day.dat", 100, 1))
    args = ["run", "--input", url, "--db", f"sqlite:///{tmp_path / 'm.db'}", *ARGS]
    code, summary = run(*args)
    assert code == 78 and "name a local folder or file with --bad-file" in summary["message"]
    (tmp_path / "out").mkdir()
    code, summary = run(*args, "--bad-file", str(tmp_path / "out" / "day.bad"), "--when",
                        "acct_type = 'C'")
    assert code == 0 and summary["counts"]["discarded"] > 0, summary
    assert [p.suffix for p in (tmp_path / "out").iterdir() if p.name != "day.bad"] == [".dsc"]


def test_a_url_with_a_password_is_refused_unshown(tmp_path, capsys):
    code = main(["run", "--input", "s3://AKIA:hunter2@bucket/day.dat", "--db",
                 f"sqlite:///{tmp_path / 'm.db'}", *ARGS])
    shown = capsys.readouterr()
    assert code == 78 and "must not hold a password" in shown.out + shown.err
    assert "hunter2" not in shown.out + shown.err
