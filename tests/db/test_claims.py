"""Claims: what each operator command may do with a file's content, given the runs before it.

The runs are written straight into ``mfp_run`` (and a ledger row where a run committed a
chunk), so every decision is checked against exactly the state it is about.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest
import sqlalchemy as sa

from mfpipe.db.claims import ClaimRequest, abandon_run, claim
from mfpipe.db.control import mfp_chunk, mfp_run
from mfpipe.db.identity import LoadIdentity
from mfpipe.db.registry import HOST, FileFacts
from mfpipe.db.runs import RunStore, insert_run, utcnow
from mfpipe.errors import RunError

PATH = "/landing/cust.dat"
TODAY, YESTERDAY = "a" * 64, "b" * 64
IDENTITY = LoadIdentity("nightly", "customer", "CUSTOMER", TODAY)
TTL = 60.0


@pytest.fixture
def store(db_url):
    store = RunStore(db_url)
    store.prepare_control()
    yield store
    store.close()


def add_run(store: RunStore, run_id: str, status: str, sha: str = TODAY, chunks: int = 1,
            path: str = PATH, table: str = "customer", minutes_ago: int = 10, **values) -> None:
    """A run of ``path`` in ``status`` that committed ``chunks`` chunks."""
    with store.engine.begin() as c:
        insert_run(c, run_id, job="nightly", file=path, file_sha256=sha,
                   record_name="CUSTOMER", final_table=table, options="{}", records_read=100)
        c.execute(mfp_run.update().where(mfp_run.c.run_id == run_id).values(**{
            "status": status, "started_at": utcnow() - dt.timedelta(minutes=minutes_ago),
            "host": "elsewhere", "pid": None, **values}))
        for chunk in range(chunks):
            c.execute(mfp_chunk.insert().values(
                run_id=run_id, chunk_id=chunk, worker_id=1, byte_offset=0, byte_length=1,
                first_record_no=1, last_record_no=1, rows_loaded=1, rows_rejected=0,
                rows_discarded=0,
                status="COMMITTED", committed_at=utcnow(), content_hash="0", totals="{}"))


def facts(sha: str = TODAY, path: str = PATH) -> FileFacts:
    return FileFacts(path, 100, dt.datetime(2026, 12, 1), sha)


def ask(store: RunStore, mode: str = "run", run_id: str = "new", sha: str = TODAY, **request):
    identity = LoadIdentity("nightly", "customer", "CUSTOMER", sha)
    return claim(store, facts(sha), identity, ClaimRequest(mode, run_id, **request), TTL)


def status(store: RunStore, run_id: str) -> tuple[str, str | None]:
    run = store.run(run_id)
    assert run is not None
    return run.status, run.superseded_by


class TestRun:
    def test_first_load_starts_a_new_run(self, store):
        """Nothing of the content before: a new run, STARTING, attempt 1, holding the file."""
        decision = ask(store)
        assert (decision.outcome, decision.run_id, decision.attempt) == ("new", "new", 1)
        assert status(store, "new") == ("STARTING", None)

    def test_published_content_is_skipped(self, store):
        """A COMPLETED run of the same content: nothing to do (99), naming it."""
        add_run(store, "r1", "COMPLETED")
        decision = ask(store)
        assert (decision.outcome, decision.run_id, decision.exit_code) == ("skip", "r1", 99)
        assert store.run("new") is None

    def test_other_content_at_the_same_path_is_a_new_run(self, store):
        """Last night's file at tonight's path: tonight's content is a new run."""
        add_run(store, "r1", "COMPLETED", sha=YESTERDAY)
        assert ask(store).outcome == "new"

    @pytest.mark.parametrize("earlier", ["FAILED", "STOPPED"])
    def test_failed_or_stopped_content_is_resumed(self, store, earlier):
        """A FAILED or STOPPED run of the content is resumed (the same run, attempt 2), not
        loaded beside a new one."""
        add_run(store, "r1", earlier)
        decision = ask(store)
        assert (decision.outcome, decision.run_id, decision.attempt) == ("resume", "r1", 2)
        assert status(store, "r1") == ("STARTING", None) and store.run("new") is None

    def test_a_run_that_loaded_nothing_is_superseded(self, store):
        """A FAILED run with an empty ledger has nothing to resume: it is ABANDONED and a
        new run starts."""
        add_run(store, "r1", "FAILED", chunks=0)
        assert ask(store).outcome == "new"
        assert status(store, "r1") == ("ABANDONED", "new")

    def test_resume_with_other_options_is_refused(self, store):
        """A launch whose options would change what the resumed run loads is refused (64),
        saying what to do, and the run stays as it was."""
        add_run(store, "r1", "FAILED")
        decision = ask(store, changes=lambda stored: "decode")
        assert (decision.outcome, decision.exit_code) == ("refused", 64)
        assert "mfpipe restart r1" in decision.message and "reprocess" in decision.message
        assert status(store, "r1") == ("FAILED", None)

    def test_a_live_run_holds_the_content(self, store):
        """A run of the content whose launcher is alive: held (75), under any path."""
        add_run(store, "r1", "STARTED", path="/other/name.dat", host=HOST, pid=os.getpid())
        assert (ask(store).outcome, ask(store).exit_code) == ("held", 75)

    def test_a_dead_launchers_run_is_recovered_and_resumed(self, store):
        """A STARTED run whose launcher is gone (no heartbeat) is recovered, then resumed."""
        add_run(store, "r1", "STARTED", heartbeat_at=utcnow() - dt.timedelta(hours=1))
        assert ask(store).outcome == "resume"


class TestReprocess:
    def test_replaces_the_runs_of_the_same_content_only(self, store):
        """Three nights at one path: a reprocess of tonight's content replaces tonight's
        run, never the other nights'."""
        add_run(store, "mon", "COMPLETED", sha="1" * 64, minutes_ago=3000)
        add_run(store, "tue", "COMPLETED", sha=YESTERDAY, minutes_ago=1500)
        add_run(store, "wed", "COMPLETED")
        decision = ask(store, "reprocess")
        assert (decision.outcome, decision.replaces) == ("new", ("wed",))
        assert status(store, "tue") == ("COMPLETED", None)

    def test_failed_and_stopped_runs_are_abandoned_at_once(self, store):
        """The content's unpublished runs are superseded now: they never restart."""
        add_run(store, "r1", "STOPPED")
        decision = ask(store, "reprocess")
        assert (decision.outcome, decision.replaces) == ("new", ())
        assert status(store, "r1") == ("ABANDONED", "new")

    def test_other_content_only_is_ambiguous(self, store):
        """A path whose earlier runs all loaded other content: refused (64), listing them."""
        add_run(store, "mon", "COMPLETED", sha=YESTERDAY)
        decision = ask(store, "reprocess")
        assert (decision.outcome, decision.exit_code) == ("refused", 64)
        assert "mon" in decision.message and "--replace" in decision.message
        assert store.run("new") is None

    def test_a_named_run_of_other_content_is_replaced(self, store):
        """A corrected re-send names the run it replaces."""
        add_run(store, "mon", "COMPLETED", sha=YESTERDAY)
        decision = ask(store, "reprocess", named=("mon",))
        assert (decision.outcome, decision.replaces) == ("new", ("mon",))

    @pytest.mark.parametrize("named, word", [("nope", "no such run"),
                                             ("elsewhere", "loaded other"),
                                             ("gone", "ABANDONED")])
    def test_a_named_run_must_be_replaceable(self, store, named, word):
        """Unknown, another table's, or abandoned already: refused, saying which."""
        add_run(store, "elsewhere", "COMPLETED", sha=YESTERDAY, table="other_table")
        add_run(store, "gone", "ABANDONED", sha=YESTERDAY)
        decision = ask(store, "reprocess", named=(named,))
        assert decision.outcome == "refused" and word in decision.message.replace(
            "loaded other_table", "loaded other")


class TestRestart:
    def test_restart_takes_the_next_attempt(self, store):
        add_run(store, "r1", "FAILED")
        decision = ask(store, "restart", "r1")
        assert (decision.outcome, decision.attempt) == ("resume", 2)

    def test_an_abandoned_run_never_restarts(self, store):
        """ABANDONED: refused (64), naming the run that superseded it."""
        add_run(store, "r1", "ABANDONED", superseded_by="r2")
        decision = ask(store, "restart", "r1")
        assert decision.outcome == "refused" and "r2" in decision.message

    def test_a_run_whose_content_is_published_never_restarts(self, store):
        """Another run of the same content is COMPLETED (and not replaced by this one):
        restarting would publish the content twice; refused."""
        add_run(store, "r1", "FAILED", minutes_ago=20)
        add_run(store, "r2", "COMPLETED")
        decision = ask(store, "restart", "r1")
        assert decision.outcome == "refused" and "r2" in decision.message

    def test_a_reprocess_restarts_despite_the_run_it_replaces(self, store):
        add_run(store, "r1", "COMPLETED", minutes_ago=20)
        add_run(store, "r2", "FAILED")
        assert ask(store, "restart", "r2", allowed=("r1",)).outcome == "resume"

    def test_a_completed_run_has_nothing_to_restart(self, store):
        add_run(store, "r1", "COMPLETED")
        assert ask(store, "restart", "r1").exit_code == 99


class TestAbandon:
    def test_abandon_a_failed_run(self, store):
        """An operator gives a run up: ABANDONED, and the next launch starts afresh."""
        add_run(store, "r1", "FAILED")
        abandon_run(store, "r1", TTL)
        assert status(store, "r1") == ("ABANDONED", None)
        assert ask(store).outcome == "new"

    @pytest.mark.parametrize("state, code", [("COMPLETED", 64), ("ABANDONED", 64)])
    def test_published_or_abandoned_runs_are_refused(self, store, state, code):
        add_run(store, "r1", state)
        with pytest.raises(RunError) as caught:
            abandon_run(store, "r1", TTL)
        assert caught.value.exit_code == code


class TestPublishGuard:
    def test_a_second_publication_of_one_content_is_refused(self, store):
        """Whatever let two runs of one content reach publication, the second's COMPLETED
        is refused inside its transaction (which the caller rolls back)."""
        add_run(store, "r1", "COMPLETED", minutes_ago=20)
        add_run(store, "r2", "STARTED")
        with store.engine.connect() as c, c.begin(), pytest.raises(RunError, match="r1"):
            store.complete(c, "r2")

    def test_a_superseded_attempt_cannot_complete(self, store):
        """A launcher whose attempt no longer owns the run (restarted while it was stopped)
        completes nothing."""
        add_run(store, "r1", "STARTED")
        with store.engine.begin() as c:
            c.execute(mfp_run.update().values(attempt=3))
        store.lease("r1", 2)
        with store.engine.connect() as c, c.begin(), pytest.raises(RunError, match="took"):
            store.complete(c, "r1")
        with store.engine.connect() as c:
            assert c.execute(sa.select(mfp_run.c.status)).scalar_one() == "STARTED"

    def test_a_cancel_just_before_the_commit_stops_the_run(self, store):
        """`runs cancel` that lands after the publication's last look at the status and
        before its COMPLETED: the run stops (143, restartable), never "taken over" (75)."""
        add_run(store, "r1", "STOPPING")
        store.lease("r1", 1)
        with store.engine.connect() as c, c.begin(), pytest.raises(
                RunError, match="stopped during publication") as caught:
            store.complete(c, "r1")
        assert caught.value.exit_code == 143


class TestRaces:
    def test_a_run_that_ended_meanwhile_is_not_recovered(self, store):
        """A run read as STARTED with a stale heartbeat, whose launcher completed it before
        the recovery: the recovery changes nothing and reports the real status (it used to
        be taken for FAILED, and the published run resumed)."""
        from mfpipe.db.registry import recover_if_dead
        from mfpipe.db.status import RunStatus

        add_run(store, "r1", "COMPLETED")
        stale = dataclasses.replace(store.run("r1"), status=RunStatus.STARTED,
                                    heartbeat_at=utcnow() - dt.timedelta(hours=1))
        with store.engine.begin() as c:
            assert recover_if_dead(c, stale, TTL) == "COMPLETED"
        assert status(store, "r1") == ("COMPLETED", None)

    def test_a_publication_whose_replaced_run_is_gone_is_refused(self, store):
        """A reprocess that replaces run r1, publishing after another load replaced r1
        already: refused in its transaction, so r1's content is never left half-replaced."""
        add_run(store, "r1", "ABANDONED", sha=YESTERDAY, minutes_ago=30)
        add_run(store, "r2", "STARTED")
        with store.engine.connect() as c, c.begin(), pytest.raises(RunError, match="replaces"):
            store.complete(c, "r2", ("r1",))
