"""Launches through the CLI: skip-if-loaded, changed files, reprocess, globs, outcomes."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
import sqlalchemy as sa

from mfpipe.cli import main
from mfpipe.db.runs import RunStore
from tests.jobs.support import LAYOUT, RUN_ARGS, keyed_file
from tests.support import query



def run(capsys, db_url: str, *args: str) -> tuple[int, dict]:
    code = main([*args, *RUN_ARGS, "--db", db_url, "--chunk-records", "1000", "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


class TestSkipIfLoaded:
    def test_loaded_unchanged_file_is_skipped_with_99(self, tmp_path, db_url, capsys):
        """The second launch on an unchanged file loads nothing and exits 99, naming the run
        that loaded it; the file stays SUCCESS in the registry."""
        path = keyed_file(tmp_path / "in.dat", 2_000)
        first = run(capsys, db_url, "run", "--input", path)[1]["run_id"]
        code, summary = run(capsys, db_url, "run", "--input", path)
        assert (code, summary["status"]) == (99, "SKIPPED")
        assert "reprocess" in summary["message"] and summary["run_id"] == first
        assert query(db_url, "SELECT status, last_run_id FROM mfp_file") == [("SUCCESS", first)]

    def test_changed_file_is_loaded_as_a_new_run(self, tmp_path, db_url, capsys):
        """Same path, new content (checksum): loaded again, as a new run."""
        path = keyed_file(tmp_path / "in.dat", 2_000, seed=1)
        first = run(capsys, db_url, "run", "--input", path)[1]["run_id"]
        keyed_file(tmp_path / "in.dat", 2_000, seed=2)
        code, summary = run(capsys, db_url, "run", "--input", path)
        assert code == 0 and summary["run_id"] != first

    def test_same_content_under_another_name_is_skipped(self, tmp_path, db_url, capsys):
        """Pre-validation: a renamed copy whose records the target already holds is skipped."""
        path = keyed_file(tmp_path / "in.dat", 2_000)
        loaded = run(capsys, db_url, "run", "--input", path)[1]["run_id"]
        shutil.copy(path, tmp_path / "copy.dat")
        code, summary = run(capsys, db_url, "run", "--input", str(tmp_path / "copy.dat"))
        assert code == 99 and loaded in summary["message"]


class TestReprocess:
    def test_reprocess_replaces_the_earlier_rows(self, tmp_path, db_url, capsys):
        """`reprocess` loads the file as a new run; the earlier run's staging and final rows
        are gone and it is ABANDONED; the new run reconciles."""
        path = keyed_file(tmp_path / "in.dat", 2_000)
        first = run(capsys, db_url, "run", "--input", path)[1]["run_id"]
        code, summary = run(capsys, db_url, "reprocess", path)
        assert code == 0 and summary["reconciliation"]["passed"]
        second = summary["run_id"]
        assert query(db_url, "SELECT last_run_id, count(*) FROM customer_account "
                             "GROUP BY last_run_id") == [(second, 2_000)]
        assert query(db_url, "SELECT run_id, count(*) FROM stg_customer_account "
                             "GROUP BY run_id") == [(second, 2_000)]
        assert query(db_url, f"SELECT status FROM mfp_run WHERE run_id = '{first}'") == [
            ("ABANDONED",)]


    def test_loading_a_failed_file_again_replaces_the_failed_run(self, tmp_path, db_url,
                                                                  capsys):
        """A run whose checks failed leaves its rows promoted for inspection; loading the
        same file again replaces them instead of adding them twice (append mode), and a
        reprocess replaces failed runs too. The replaced runs are ABANDONED."""
        path = keyed_file(tmp_path / "in.dat", 2_000)
        args = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--db", db_url, "--json",
                "--input", path]
        failing = [*args, "--rule", "range:balance:0..100"]
        runs = []
        for command in (["run", *failing], ["run", *failing], ["reprocess", *args]):
            code = main(command if command[0] == "run" else
                        ["reprocess", path, *[a for a in args if a not in ("--input", path)]])
            runs.append((code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])))
        assert [code for code, _ in runs] == [65, 65, 0]
        first, second, third = (summary["run_id"] for _, summary in runs)
        assert query(db_url, "SELECT last_run_id, count(*) FROM customer_account "
                             "GROUP BY last_run_id") == [(third, 2_000)]
        assert dict(query(db_url, "SELECT run_id, status FROM mfp_run")) == {
            first: "ABANDONED", second: "ABANDONED", third: "COMPLETED"}


class TestGlob:
    def test_partial_launch(self, tmp_path, db_url, capsys):
        """A glob of three files, one truncated: the two others load, the launch is PARTIAL
        and exits with the failure's code; a second launch skips the loaded ones."""
        for name in ("a", "b", "c"):
            keyed_file(tmp_path / f"cust_{name}.dat", 1_000, seed=ord(name))
        with open(tmp_path / "cust_b.dat", "ab") as f:
            f.write(b"\x40" * 37)  # not a whole record: a framing error (65)
        pattern = str(tmp_path / "cust_*.dat")
        code, launch = run(capsys, db_url, "run", "--input", pattern)
        assert (code, launch["status"]) == (65, "PARTIAL")
        assert [r["status"] for r in launch["runs"]] == ["COMPLETED", "FAILED", "COMPLETED"]
        assert "cust_b.dat" in launch["runs"][1]["message"]
        code, again = run(capsys, db_url, "run", "--input", pattern)
        assert [r["status"] for r in again["runs"]] == ["SKIPPED", "FAILED", "SKIPPED"]

    def test_parallel_files(self, tmp_path, db_url, capsys):
        """--parallel-files 2 loads a glob's files two at a time, each its own run."""
        for i, name in enumerate("abc"):  # disjoint keys: each run's rows stay its own
            keyed_file(tmp_path / f"cust_{name}.dat", 1_000, seed=ord(name), first_key=i * 1000)
        code, launch = run(capsys, db_url, "run", "--input", str(tmp_path / "cust_*.dat"),
                           "--parallel-files", "2")
        assert (code, launch["status"]) == (0, "COMPLETED")
        assert len({r["run_id"] for r in launch["runs"]}) == 3
        assert all(r["reconciliation"]["passed"] for r in launch["runs"])

    def test_stop_on_error(self, tmp_path, db_url, capsys):
        """--stop-on-error leaves the files after the first failure unstarted."""
        for name in ("a", "b"):
            keyed_file(tmp_path / f"cust_{name}.dat", 500, seed=ord(name))
        (tmp_path / "cust_a.dat").write_bytes(b"\x40" * 150)
        code, launch = run(capsys, db_url, "run", "--input", str(tmp_path / "cust_*.dat"),
                           "--stop-on-error")
        assert (code, launch["status"]) == (65, "FAILED")
        assert launch["not_started"] == [str(tmp_path / "cust_b.dat")]

    def test_nothing_matches_exits_66(self, tmp_path, capsys):
        """A glob matching no file is an input error, not a silent success."""
        db = f"sqlite:///{tmp_path / 'x.db'}"
        assert main(["run", "--input", str(tmp_path / "none_*.dat"), *RUN_ARGS, "--db", db]) == 66
        assert "no file matches" in capsys.readouterr().err

    def test_directory_as_input_exits_66(self, tmp_path, capsys):
        """A directory given as the input file is named as such, exit 66."""
        db = f"sqlite:///{tmp_path / 'x.db'}"
        assert main(["run", "--input", str(tmp_path), *RUN_ARGS, "--db", db]) == 66
        assert "is a directory, not a file" in capsys.readouterr().out


class TestKeepStagingDays:
    def test_a_launch_purges_the_older_runs_staging_rows(self, tmp_path, db_url, capsys):
        """--keep-staging-days: after a launch that loaded a file, the finished runs older
        than that lose their staging rows; the new run and the final table keep theirs."""
        first = run(capsys, db_url, "run", "--input", keyed_file(tmp_path / "a.dat", 800))[1]
        store = RunStore(db_url)
        with store.engine.begin() as c:
            c.execute(sa.text("UPDATE mfp_run SET ended_at = :t"),
                      {"t": dt.datetime(2026, 1, 1)})
        store.close()
        code, second = run(capsys, db_url, "run", "--input",
                           keyed_file(tmp_path / "b.dat", 300, seed=8, first_key=2_000),
                           "--keep-staging-days", "1")
        assert code == 0 and second["status"] == "COMPLETED"
        assert query(db_url, "SELECT run_id, count(*) FROM stg_customer_account "
                             "GROUP BY run_id") == [(second["run_id"], 300)]
        assert query(db_url, "SELECT run_id, rows_deleted FROM mfp_purge") == [
            (first["run_id"], 800)]
        assert query(db_url, "SELECT count(*) FROM customer_account") == [(1_100,)]



class TestBadFile:
    def test_bad_file_goes_beside_the_input(self, tmp_path, capsys):
        """Rejected records' bytes go to <input>.<run id>.bad beside the input (not into
        the launcher's working directory), as the summary says."""
        db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 1_000)
        data = bytearray(open(path, "rb").read())
        data[100 * 7 + 53] = 0xFF  # a packed digit nibble above 9 in record 8's balance
        open(path, "wb").write(bytes(data))
        code, summary = run(capsys, db_url, "run", "--input", path)
        assert code == 0 and summary["counts"]["rejected"] == 1
        expected = tmp_path / f"in.dat.{summary['run_id']}.bad"
        assert summary["bad_file"] == str(expected) and expected.read_bytes() == data[700:800]

    def test_unwritable_bad_file_is_refused_before_loading(self, tmp_path, capsys):
        """A bad file whose folder does not exist is refused at start-up (78, naming it),
        not when the first reject comes; no run is created."""
        db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        path = keyed_file(tmp_path / "in.dat", 1_000)
        code, summary = run(capsys, db_url, "run", "--input", path, "--bad-file",
                            str(tmp_path / "missing" / "x.bad"))
        assert code == 78 and "missing" in summary["message"]
        assert summary["run_id"] is None


class TestEmptyFile:
    def test_an_empty_file_is_a_zero_record_run_that_reconciles(self, tmp_path, db_url,
                                                                 capsys):
        """An empty file (or one with only a header and a trailer) is an ordinary night:
        a run of zero records whose checks pass (it used to exit 70, KeyError 'balance')."""
        path = tmp_path / "in.dat"
        for content, extra in ((b"", ()), (b"H" * 100 + b"T" * 100,
                                           ("--skip-header-bytes", "100",
                                            "--skip-trailer-bytes", "100"))):
            path.write_bytes(content)
            code, summary = run(capsys, db_url, "run", "--input", str(path), *extra)
            assert (code, summary["status"]) == (0, "COMPLETED"), summary
            assert summary["counts"]["read"] == 0 and summary["reconciliation"]["passed"]

    def test_a_job_may_skip_or_fail_an_empty_file(self, tmp_path, db_url, capsys):
        """--empty-file skip exits 99 and fail exits 65, both without a run."""
        path = tmp_path / "in.dat"
        path.write_bytes(b"")
        for choice, expected in (("skip", 99), ("fail", 65)):
            code, summary = run(capsys, db_url, "run", "--input", str(path), "--empty-file",
                                choice)
            assert code == expected and "no records" in summary["message"]
            assert summary["run_id"] is None


class TestSignals:
    def test_sigterm_stops_parallel_files_at_a_chunk_boundary(self, tmp_path):
        """With --parallel-files 2 the engines run in other threads; SIGTERM still stops
        each at a chunk boundary (STOPPED, restartable; the launch exits 143), instead of
        killing the launcher mid-chunk. A relaunch resumes both runs."""
        import signal

        from tests.jobs.support import launcher, wait_for_commits

        db_url = f"sqlite:///{tmp_path / 'mfpipe.db'}"
        for name in ("a", "b"):
            keyed_file(tmp_path / f"{name}.dat", 150_000, seed=ord(name),
                       first_key=1 if name == "a" else 1_000_000)
        args = ["run", "--input", str(tmp_path / "*.dat"), *RUN_ARGS, "--db", db_url,
                "--chunk-records", "1000", "--parallel-files", "2", "--json"]
        process = launcher(args, tmp_path)
        wait_for_commits(db_url, 6)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 143, err
        launch = json.loads(out.strip().splitlines()[-1])
        assert launch["status"] == "STOPPED"
        assert sorted(r["status"] for r in launch["runs"]) == ["STOPPED", "STOPPED"]
        code, again = run_launch(db_url, tmp_path, ["--parallel-files", "2"])
        assert code == 0 and sorted(r["run_id"] for r in again["runs"]) == sorted(
            r["run_id"] for r in launch["runs"])


def run_launch(db_url: str, tmp_path, extra: list[str]) -> tuple[int, dict]:
    from tests.jobs.support import launcher

    process = launcher(["run", "--input", str(tmp_path / "*.dat"), *RUN_ARGS, "--db", db_url,
                        "--chunk-records", "1000", "--json", *extra], tmp_path)
    out, _ = process.communicate(timeout=300)
    return process.returncode, json.loads(out.strip().splitlines()[-1])


class TestStagingTable:
    def test_another_staging_table_is_used_throughout(self, tmp_path, db_url, capsys):
        """--staging-table names the staging table: the load, the proof, `reconcile` and
        `runs purge` all use it; a name that is not an identifier is refused (78)."""
        path = keyed_file(tmp_path / "in.dat", 1_500)
        code, summary = run(capsys, db_url, "run", "--input", path,
                            "--staging-table", "stg_nightly")
        assert code == 0 and summary["tables"]["staging"] == "stg_nightly"
        assert query(db_url, "SELECT count(*) FROM stg_nightly") == [(1_500,)]
        assert main(["reconcile", summary["run_id"], "--db", db_url]) == 0
        assert main(["runs", "purge", "--older-than", "0", "--db", db_url]) == 0
        assert query(db_url, "SELECT count(*) FROM stg_nightly") == [(0,)]
        code, refused = run(capsys, db_url, "run", "--input", path,
                            "--staging-table", "stg; drop")
        assert code == 78 and refused["run_id"] is None


class TestSeveralFiles:
    @pytest.mark.parametrize("flags, word", [(["--replace", "R1"], "--replace"),
                                             (["--discard-file", "one.dsc", "--when",
                                               "acct_type = 'S'"], "--discard-file")])
    def test_options_meant_for_one_file_are_refused_for_several(self, tmp_path, capsys,
                                                                flags, word):
        """--replace names the run one corrected file replaces, and a discard file shared
        by several runs would interleave: with a glob both are refused (78)."""
        for name in ("a", "b"):
            keyed_file(tmp_path / f"{name}.dat", 100, seed=ord(name))
        db = f"sqlite:///{tmp_path / 'm.db'}"
        command = "reprocess" if word == "--replace" else "run"
        target = [str(tmp_path / "*.dat")] if command == "reprocess" else [
            "--input", str(tmp_path / "*.dat")]
        code = main([command, *target, *RUN_ARGS, "--db", db, "--json", *flags])
        assert code == 78 and word in capsys.readouterr().out


class TestCompressedInput:
    def test_a_gzip_file_loads_as_its_content(self, tmp_path, db_url, capsys, monkeypatch):
        """A gzip file loads exactly the rows of its content (same counts, same final table),
        and its decompressed spool is gone once the run completed."""
        import gzip

        spool = tmp_path / "spool"
        spool.mkdir()
        monkeypatch.setenv("MFPIPE_SPOOL", str(spool))
        path = keyed_file(tmp_path / "in.dat", 3_000)
        packed = tmp_path / "in.dat.gz"
        packed.write_bytes(gzip.compress(open(path, "rb").read()))
        code, summary = run(capsys, db_url, "run", "--input", str(packed))
        assert code == 0, summary
        assert (summary["counts"]["read"], summary["counts"]["loaded"]) == (3_000, 3_000)
        assert query(db_url, "SELECT COUNT(*), SUM(cust_id) FROM customer_account") == [
            (3_000, 3_000 * 3_001 // 2)]
        assert list(spool.iterdir()) == []


class TestInvalidNumericAsNull:
    def test_counted_per_column_and_reconciled(self, tmp_path, db_url, capsys):
        """--invalid-numeric null: garbage in a packed field loads as NULL, the record is
        kept, the count per column is in the summary and the report, and the run reconciles;
        by default the same records are rejects."""
        path = keyed_file(tmp_path / "in.dat", 2_000)
        data = bytearray(open(path, "rb").read())
        for record in range(0, 2_000, 40):  # 50 bad packed digits in balance
            data[record * 100 + 53] = 0xFF
        open(path, "wb").write(bytes(data))
        code, summary = run(capsys, db_url, "run", "--input", path, "--invalid-numeric", "null")
        assert code == 0, summary
        assert summary["counts"]["loaded"] == 2_000 and summary["counts"]["rejected"] == 0
        assert summary["counts"]["nulled"] == {"balance": 50}
        assert query(db_url, "SELECT COUNT(*) FROM customer_account WHERE balance IS NULL") == [
            (50,)]
        assert main(["report", summary["run_id"], "--db", db_url]) == 0
        text = capsys.readouterr().out
        assert "loaded as NULL" in text and "balance" in text
        other = tmp_path / "other.dat"
        other.write_bytes(bytes(data[:100 * 1_000]))
        code, strict = run(capsys, db_url, "run", "--input", str(other))
        assert strict["counts"]["rejected"] == 25 and "nulled" not in strict["counts"]


class TestRefusedBeforeReading:
    def test_a_rule_its_column_cannot_compare_with(self, tmp_path, db_url, capsys):
        """range:balance:abc..def is refused (78) before a byte is read or a run is made; it
        used to load and promote the whole file, then fail 70."""
        path = keyed_file(tmp_path / "in.dat", 500)
        code, summary = run(capsys, db_url, "run", "--input", path,
                            "--rule", "range:balance:abc..def")
        assert code == 78 and "'abc' is not a value of column balance" in summary["message"]
        assert summary["run_id"] is None  # no run was made, nothing was read

    def test_final_table_named_like_the_staging_table(self, tmp_path, db_url, capsys):
        """--final-table stg_<record> is refused (78), naming both options."""
        path = keyed_file(tmp_path / "in.dat", 500)
        code, summary = run(capsys, db_url, "run", "--input", path,
                            "--final-table", "stg_customer_account")
        assert code == 78 and "cannot also be the staging table" in summary["message"]


def test_more_columns_than_postgresql_holds(tmp_path, postgres_url, capsys):
    """A record of 1,700 columns into PostgreSQL (1,600 at most) is a configuration error
    (78) naming both numbers, not the driver's TooManyColumns."""
    from tests.support import copybook

    layout = tmp_path / "wide.cpy"
    layout.write_text(copybook("01  REC.\n    05  A OCCURS 1700 PIC X."))
    path = tmp_path / "wide.dat"
    path.write_bytes(b"\x40" * 1700)
    code = main(["run", "--layout", str(layout), "--input", str(path), "--db", postgres_url,
                 "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 78 and "1,700 columns" in summary["message"] and "1,600" in summary["message"]
