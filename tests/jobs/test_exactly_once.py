"""The operator sequences of issue 12 that lost or doubled rows, each end to end through the
CLI on SQLite and PostgreSQL: nights of one path, reprocess, SIGTERM and relaunch, abandon,
a trailer that says the transfer was incomplete."""

from __future__ import annotations

import signal

import pytest
import sqlalchemy as sa

from mfpipe.cli import main
from mfpipe.db.explorer import RunRecord
from mfpipe.db.runs import RunStore
from tests.jobs.support import LAYOUT, keyed_file, last_json, launcher, wait_for_commits
from tests.support import query

ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--processors", "2",
        "--writers", "1", "--chunk-records", "500", "--json"]


def cli(capsys, db_url: str, *args: str) -> tuple[int, dict]:
    code = main([*args, *ARGS, "--db", db_url])
    return code, last_json(capsys.readouterr().out)


def final_rows(db_url: str) -> dict[str, int]:
    """Rows of the final table per run that wrote them."""
    store = RunStore(db_url)
    with store.engine.connect() as c:
        found = dict(c.execute(sa.text("SELECT last_run_id, count(*) FROM customer_account "
                                       "GROUP BY last_run_id")).all())
    store.close()
    return found


def run_row(db_url: str, run_id: str) -> RunRecord:
    store = RunStore(db_url)
    run = store.run(run_id)
    store.close()
    assert run is not None
    return run


class TestNights:
    def test_reprocess_replaces_tonights_run_only(self, tmp_path, db_url, capsys):
        """Three nights of one path, each other content; `reprocess` of the path replaces
        tonight's load only (it used to delete the other nights' rows), and loading tonight's
        file again is skipped (99)."""
        path = tmp_path / "cust.dat"
        nights = []
        for night in range(3):
            keyed_file(path, 1_000, seed=night, first_key=1 + 1_000 * night)
            code, summary = cli(capsys, db_url, "run", "--input", str(path))
            assert code == 0, summary
            nights.append(summary["run_id"])
        code, again = cli(capsys, db_url, "reprocess", str(path))
        assert code == 0 and again["reconciliation"]["passed"], again
        assert final_rows(db_url) == {nights[0]: 1_000, nights[1]: 1_000, again["run_id"]: 1_000}
        assert run_row(db_url, nights[2]).status == "ABANDONED"
        assert cli(capsys, db_url, "run", "--input", str(path))[0] == 99

    def test_a_corrected_resend_names_the_run_it_replaces(self, tmp_path, db_url, capsys):
        """Other content at a loaded path: `reprocess` alone is ambiguous (64, listing the
        earlier run); with `--replace RUN_ID` the corrected file replaces that run."""
        path = tmp_path / "cust.dat"
        keyed_file(path, 1_000, seed=1)
        monday = cli(capsys, db_url, "run", "--input", str(path))[1]["run_id"]
        keyed_file(path, 900, seed=2)  # the corrected re-send
        code, refused = cli(capsys, db_url, "reprocess", str(path))
        assert code == 64 and monday in refused["message"] and refused["run_id"] is None
        assert final_rows(db_url) == {monday: 1_000}
        code, fixed = cli(capsys, db_url, "reprocess", str(path), "--replace", monday)
        assert code == 0
        assert final_rows(db_url) == {fixed["run_id"]: 900}
        assert run_row(db_url, monday).superseded_by == fixed["run_id"]


class TestStoppedRuns:
    def test_relaunch_after_sigterm_resumes_the_stopped_run(self, tmp_path, db_url, capsys):
        """`run`, SIGTERM (143, STOPPED), `run` again: the relaunch resumes the stopped run
        (same run id, attempt 2) instead of loading the file a second time beside it; a
        restart of it afterwards has nothing to do (99). The final table holds each record
        once."""
        path = keyed_file(tmp_path / "in.dat", 40_000)
        process = launcher(["run", "--input", path, *ARGS, "--db", db_url], tmp_path)
        wait_for_commits(db_url, 3)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 143, err
        stopped = last_json(out)["run_id"]
        code, summary = cli(capsys, db_url, "run", "--input", path)
        assert (code, summary["run_id"], summary["attempt"]) == (0, stopped, 2), summary
        assert main(["restart", stopped, "--db", db_url]) == 99
        assert final_rows(db_url) == {stopped: 40_000}
        # every attempt is recorded, and the run's time is theirs added up (it used to be
        # the last attempt's load alone)
        store = RunStore(db_url)
        attempts = store.attempts(stopped)
        run = store.run(stopped)
        store.close()
        assert [(a.attempt, a.status, a.exit_code) for a in attempts] == [
            (1, "STOPPED", 143), (2, "COMPLETED", 0)]
        assert sum(a.records_loaded for a in attempts) == 40_000
        assert run.elapsed_s == round(sum(a.elapsed_s for a in attempts), 3)
        assert attempts[1].elapsed_s >= attempts[1].load_s + attempts[1].publish_s

    def test_an_abandoned_run_never_restarts(self, tmp_path, db_url, capsys):
        """`runs abandon` gives a stopped run up: `restart` refuses it (64) and the next
        launch loads the content afresh as a new run."""
        path = keyed_file(tmp_path / "in.dat", 40_000)
        process = launcher(["run", "--input", path, *ARGS, "--db", db_url], tmp_path)
        wait_for_commits(db_url, 2)
        process.send_signal(signal.SIGTERM)
        stopped = last_json(process.communicate(timeout=60)[0])["run_id"]
        assert main(["runs", "abandon", stopped, "--db", db_url]) == 0
        assert main(["restart", stopped, "--db", db_url]) == 64
        code, summary = cli(capsys, db_url, "run", "--input", path)
        assert code == 0 and summary["run_id"] != stopped
        assert final_rows(db_url) == {summary["run_id"]: 40_000}

    def test_relaunch_with_other_proof_options_is_refused(self, tmp_path, db_url, capsys):
        """A run whose proof failed (65) is resumed by a relaunch with the same options
        (and fails again: same content, same proof); a relaunch with other rules is refused
        (64), and `reprocess` loads the content afresh with them."""
        path = keyed_file(tmp_path / "in.dat", 1_000)
        strict = ["--rule", "range:cust_id:1..999"]
        code, failed = cli(capsys, db_url, "run", "--input", path, *strict)
        assert code == 65
        code, again = cli(capsys, db_url, "run", "--input", path, *strict)
        assert (code, again["run_id"]) == (65, failed["run_id"])
        code, refused = cli(capsys, db_url, "run", "--input", path)
        assert code == 64 and "rules" in refused["message"], refused
        code, done = cli(capsys, db_url, "reprocess", path)
        assert code == 0 and final_rows(db_url) == {done["run_id"]: 1_000}
        assert run_row(db_url, failed["run_id"]).status == "ABANDONED"


class TestAtomicPublish:
    def test_a_failed_proof_publishes_nothing(self, tmp_path, db_url, capsys):
        """A run whose proof fails (a not_null rule here) exits 65 with nothing in the final
        table; its staging rows stay for inspection; `runs abandon` gives it up."""
        path = keyed_file(tmp_path / "in.dat", 1_000)
        code, summary = cli(capsys, db_url, "run", "--input", path,
                            "--rule", "range:cust_id:1..999")
        assert code == 65 and "nothing was published" in summary["message"]
        assert summary["counts"]["final"] == 0 and final_rows(db_url) == {}
        store = RunStore(db_url)
        with store.engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM stg_customer_account")
                             ).scalar_one() == 1_000
        store.close()


def with_keys(path, keys: dict[int, bytes]) -> str:
    """Overwrite the cust_id bytes (the first 10 of 100) of some records (0-based)."""
    data = bytearray(open(path, "rb").read())
    for index, key in keys.items():
        data[index * 100:index * 100 + 10] = key
    open(path, "wb").write(bytes(data))
    return str(path)


class TestKeys:
    def test_a_blank_key_is_a_reject_not_a_lost_row(self, tmp_path, db_url, capsys):
        """A record whose key is all spaces: rejected with its reason, so read 1,000 =
        loaded 999 + rejected 1 = final 999 + 1 (it used to load, then vanish at
        promotion with every check passing)."""
        path = with_keys(keyed_file(tmp_path / "in.dat", 1_000), {41: b"\x40" * 10})
        code, summary = cli(capsys, db_url, "run", "--input", path, "--key", "cust_id")
        assert code == 0, summary
        counts = summary["counts"]
        assert (counts["read"], counts["loaded"], counts["rejected"], counts["final"]) == (
            1_000, 999, 1, 999)
        store = RunStore(db_url)
        with store.engine.connect() as c:
            reject = c.execute(sa.text("SELECT record_no, field, reason FROM mfp_reject")).one()
        store.close()
        assert tuple(reject) == (42, "CUST-ID", "key field has no value (all spaces, or "
                                                "absent)")

    def test_duplicate_keys_fail_the_proof(self, tmp_path, db_url, capsys):
        """A key twice in one file fails the built-in uniqueness check (65), publishing
        nothing (they used to collapse silently, 1,000 loaded -> 990 final)."""
        source = keyed_file(tmp_path / "in.dat", 1_000)
        path = with_keys(source, {i: open(source, "rb").read()[:10] for i in range(1, 11)})
        code, summary = cli(capsys, db_url, "run", "--input", path, "--key", "cust_id")
        assert code == 65 and "rule_unique_cust_id" in summary["reconciliation"]["failed"]
        assert final_rows(db_url) == {}

    def test_accepted_duplicates_are_accounted_for(self, tmp_path, db_url, capsys):
        """With `--duplicate-keys warn` the later record wins; the count check says where
        every staging row went (990 final + 10 replaced by a later record)."""
        source = keyed_file(tmp_path / "in.dat", 1_000)
        path = with_keys(source, {i: open(source, "rb").read()[:10] for i in range(1, 11)})
        code, summary = cli(capsys, db_url, "run", "--input", path, "--key", "cust_id",
                            "--duplicate-keys", "warn")
        assert code == 0 and summary["reconciliation"]["warnings"] == ["rule_unique_cust_id"]
        assert summary["counts"]["final"] == 990
        store = RunStore(db_url)
        with store.engine.connect() as c:
            check = c.execute(sa.text("SELECT expected, actual, details FROM mfp_recon_result "
                                      "WHERE check_name = 'final_rows'")).one()
        store.close()
        assert (check.expected, check.actual) == ("1000", "1000")
        assert "990 row(s) in the final table + 10 earlier record(s)" in check.details


class TestAdvice:
    def test_a_data_failure_is_not_told_to_restart(self, tmp_path, db_url, capsys):
        """The report of a run whose checks failed says a restart would fail the same way
        and names reprocess and abandon; the report of a killed run says restart."""
        path = keyed_file(tmp_path / "in.dat", 500)
        code, failed = cli(capsys, db_url, "run", "--input", path,
                           "--rule", "range:cust_id:1..9")
        assert code == 65
        assert main(["report", failed["run_id"], "--db", db_url]) == 0
        text = capsys.readouterr().out
        assert "would fail the same way" in text and "runs abandon" in text
        assert f"mfpipe restart {failed['run_id']}" not in text


class TestRestartOptions:
    def test_restart_may_change_only_what_does_not_change_the_load(self, tmp_path, db_url,
                                                                   capsys):
        """A run stopped by its error limit restarts with a higher --max-errors and fewer
        processors (stored with the attempt); options it may not change are refused."""
        path = keyed_file(tmp_path / "in.dat", 3_000)
        data = bytearray(open(path, "rb").read())
        for record in range(0, 3_000, 100):  # 30 bad packed digits
            data[record * 100 + 53] = 0xFF
        open(path, "wb").write(bytes(data))
        code, failed = cli(capsys, db_url, "run", "--input", path, "--max-errors", "5")
        assert code == 65
        assert main(["restart", failed["run_id"], "--db", db_url, "--max-errors", "100",
                     "--processors", "1", "--json"]) == 0
        done = last_json(capsys.readouterr().out)
        assert done["counts"]["rejected"] == 30 and done["attempt"] == 2
        assert run_row(db_url, failed["run_id"]).status == "COMPLETED"
        from mfpipe.errors import RunError
        from mfpipe.jobs.restart import restart_run

        with pytest.raises(RunError, match="cannot change key"):
            restart_run(failed["run_id"], db_url, changes={"key": ("cust_id",)})


class TestTakenOver:
    def test_a_copybook_changed_since_the_run_began(self, tmp_path, db_url, capsys):
        """A run failed, its copybook then edited (BALANCE's scale changed): a relaunch does
        not resume it (its options differ), a restart finishes it with the copybook stored
        with the run and says so, and so does the report of a reconcile."""
        layout = tmp_path / "c.cpy"
        original = open(LAYOUT).read()
        layout.write_text(original)
        path = keyed_file(tmp_path / "in.dat", 3_000)
        data = bytearray(open(path, "rb").read())
        for record in range(0, 3_000, 100):  # 30 bad packed digits
            data[record * 100 + 53] = 0xFF
        open(path, "wb").write(bytes(data))
        args = ["--layout", str(layout), "--date", "open_date=YYYYMMDD", "--json",
                "--db", db_url]
        assert main(["run", "--input", path, *args, "--max-errors", "5"]) == 65
        run_id = last_json(capsys.readouterr().out)["run_id"]
        edited = original.replace("PIC S9(11)V99 COMP-3", "PIC S9(13)    COMP-3")
        assert edited != original
        layout.write_text(edited)
        assert main(["run", "--input", path, *args, "--max-errors", "5"]) == 64
        assert "layout_sha256" in last_json(capsys.readouterr().out)["message"]
        assert main(["restart", run_id, "--db", db_url, "--max-errors", "100"]) == 0
        assert "has changed since the run began" in capsys.readouterr().err
        scales = {str(v).partition(".")[2].__len__() for (v,) in query(
            db_url, "SELECT balance FROM customer_account")}
        assert scales == {2}  # every chunk decoded with the stored copybook
        assert main(["reconcile", run_id, "--db", db_url]) == 0
        text = capsys.readouterr().out
        assert "Notes" in text and "the copybook stored with it" in text

    def test_a_launcher_whose_run_was_taken_over_stops(self, tmp_path, db_url):
        """A launcher that finds another attempt owns its run (its heartbeat changes no
        row) stops loading within a heartbeat and ends with 75, publishing nothing."""
        import threading
        import time

        from mfpipe.db.control import mfp_run
        from mfpipe.framing import FramingOptions
        from mfpipe.jobs.load import load_file
        from mfpipe.pipeline.spec import JobSpec
        from tests.recon.conftest import OPTIONS

        path = keyed_file(tmp_path / "in.dat", 200_000)
        config = JobSpec.of(LAYOUT, path, db_url, FramingOptions("FB", lrecl=100), OPTIONS,
                           chunk_records=500, writers=1, heartbeat_s=0.2)

        def take_over() -> None:
            wait_for_commits(db_url, 3)
            store = RunStore(db_url)
            with store.engine.begin() as c:
                c.execute(mfp_run.update().values(attempt=mfp_run.c.attempt + 1))
            store.close()

        thread = threading.Thread(target=take_over, daemon=True)
        started = time.monotonic()
        thread.start()
        summary = load_file(config)
        thread.join(10)
        assert (summary.status, summary.exit_code) == ("FAILED", 75), summary.message
        assert "took the run over" in summary.message
        assert final_rows(db_url) == {}
        assert time.monotonic() - started < 60
