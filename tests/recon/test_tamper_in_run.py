"""Tampering inside a run: the database changes rows as they are written.

A trigger on staging changes a row as its chunk is loaded: the writer's measure of the chunk,
taken inside the chunk's transaction, differs from what the processor decoded, so the chunk
rolls back and the run fails (65) naming the chunk and what differs; nothing of that chunk
is committed, and once the trigger is gone a restart completes the run with every row once.
A trigger on the final table changes a row as promotion writes it: the publishing
transaction's measure differs, so nothing is published. Each on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa

from mfpipe.codec import DecodePlan
from mfpipe.codec.encode import encode_records
from mfpipe.codec.synth import synthesize
from mfpipe.db.rules import Rule
from mfpipe.db.runs import RunStore
from mfpipe.framing import FramingOptions, write_records
from mfpipe.jobs.restart import restart_run
from mfpipe.layout import load_layout
from mfpipe.recon import ReconciliationService
from mfpipe.recon.measures import Measurements, measure_final, measure_staging, proved_chunks
from mfpipe.recon.subject import RunSubject
from tests.recon.conftest import LAYOUT, OPTIONS, LoadedRun, load

STAGING, FINAL = "stg_customer_account", "customer_account"
COLUMNS = DecodePlan.compile(load_layout(LAYOUT).record(), OPTIONS).schema.names


def prepared(db_url: str) -> RunStore:
    """The run's tables, created before the run so that a test can put a trigger on them."""
    store = RunStore(db_url)
    schema = DecodePlan.compile(load_layout(LAYOUT).record(), OPTIONS).schema
    store.prepare("customer_account", schema, key=("cust_id",))
    return store


def trigger(store: RunStore, table: str, column: str, value: str, when: str) -> None:
    """A row trigger on ``table`` setting ``column`` to ``value`` in the rows meeting
    ``when`` as they are inserted, each dialect its own way (``{row}`` in ``value`` and
    ``when`` stands for the row's prefix)."""
    with store.engine.begin() as c:
        if store.dialect.name == "postgresql":
            c.execute(sa.text(
                f"CREATE FUNCTION tamper_{table}() RETURNS trigger AS $$ BEGIN "
                f"IF {when.format(row='NEW.')} THEN NEW.{column} = {value.format(row='NEW.')};"
                f" END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            c.execute(sa.text(f"CREATE TRIGGER tamper BEFORE INSERT ON {table} FOR EACH ROW "
                              f"EXECUTE FUNCTION tamper_{table}()"))
        else:  # SQLite's triggers cannot change NEW: change the row just written
            c.execute(sa.text(
                f"CREATE TRIGGER tamper AFTER INSERT ON {table} WHEN {when.format(row='NEW.')} "
                f"BEGIN UPDATE {table} SET {column} = {value.format(row='')} "
                "WHERE rowid = NEW.rowid; END"))


def drop_trigger(store: RunStore, table: str) -> None:
    with store.engine.begin() as c:
        c.execute(sa.text("DROP TRIGGER tamper" + (f" ON {table}" if store.dialect.name ==
                                                   "postgresql" else "")))


def failed_run(tmp_path, db_url, table: str, column: str, value: str, when: str,
               **overrides: object) -> tuple[RunStore, LoadedRun]:
    """A run loaded through a trigger on ``table`` (see :func:`trigger`), which failed
    with 65."""
    store = prepared(db_url)
    trigger(store, table, column, value, when)
    run = load(tmp_path, db_url, **overrides)
    assert (run.summary.status, run.summary.exit_code) == ("FAILED", 65), run.summary.message
    return store, run


def count(store: RunStore, sql: str, **params: object) -> int:
    with store.engine.connect() as c:
        return int(c.execute(sa.text(sql), params).scalar_one())


class TestStagingTrigger:
    def test_changed_amount_fails_its_chunk_and_a_restart_completes(self, tmp_path, db_url):
        """A cent added to one record's balance as staging receives it: the run fails with
        65 naming chunk 2 (records 2001-3000) and the balance totals; that chunk has no
        staging row and no ledger row; after the trigger is dropped, a restart loads it
        once and the run reconciles, by chunk proofs at publication and by a re-scan."""
        store, run = failed_run(tmp_path, db_url, STAGING, "balance", "{row}balance + 0.01",
                                "{row}record_no = 2500")
        summary = run.summary
        assert "MFP-5003 chunk 2 (worker " in summary.message
        assert "records 2001-3000) is not in stg_customer_account as it was decoded" \
            in summary.message
        assert "balance totals" in summary.message and "content hash" in summary.message
        assert "nothing of the chunk was committed" in summary.message
        run_id = summary.run_id
        assert count(store, f"SELECT count(*) FROM {STAGING} WHERE run_id = :r AND "
                            "chunk_id = 2", r=run_id) == 0
        assert count(store, "SELECT count(*) FROM mfp_chunk WHERE run_id = :r AND "
                            "chunk_id = 2", r=run_id) == 0
        assert count(store, f"SELECT count(*) FROM {FINAL}") == 0  # nothing published

        drop_trigger(store, STAGING)
        with store.engine.begin() as c:  # what a loader committing apart from its ledger
            # (Oracle's Direct Path Load) leaves of a failed chunk: the restart removes it
            c.execute(sa.text(f"INSERT INTO {STAGING} SELECT run_id, worker_id, 2, record_no + "
                              f"1000, {', '.join(COLUMNS)} FROM {STAGING} WHERE run_id = :r "
                              "AND record_no BETWEEN 1001 AND 1010"), {"r": run_id})
            c.execute(sa.text("INSERT INTO mfp_chunk_proof VALUES (:r, 2, 10, '0', '{}', '{}', "
                              "CURRENT_TIMESTAMP)"), {"r": run_id})
        again = restart_run(run_id, db_url)
        assert (again.status, again.exit_code) == ("COMPLETED", 0), again.message
        assert count(store, f"SELECT count(*) FROM {STAGING} WHERE run_id = :r",
                     r=run_id) == 6_000
        assert count(store, f"SELECT count(DISTINCT record_no) FROM {STAGING} WHERE "
                            "run_id = :r", r=run_id) == 6_000
        assert count(store, "SELECT count(*) FROM mfp_chunk_proof WHERE run_id = :r",
                     r=run_id) == 6
        checks = {c["check_name"]: c for c in store.checks(run_id)}
        assert checks["content_hash_staging"]["proof"] == "chunk"
        assert checks["content_hash_final"]["proof"] == "publish"
        assert checks["rule_unique_cust_id"]["proof"] == "scan"
        audit = ReconciliationService(store).reconcile(run_id)
        assert audit.passed and {c.proof for c in audit.checks} <= {"scan", ""}
        store.close()
        run.store.close()

    def test_changed_text_is_seen_by_the_hash_alone(self, tmp_path, db_url):
        """A name changed as it is written keeps every count and total: the chunk's content
        hash alone differs, and that fails the chunk."""
        store, run = failed_run(tmp_path, db_url, STAGING, "cust_name", "'SOMEONE ELSE'",
                                "{row}record_no = 4321")
        summary = run.summary
        assert "MFP-5003 chunk 4 " in summary.message and "content hash" in summary.message
        assert "totals" not in summary.message and "rows found" not in summary.message
        store.close()
        run.store.close()


class TestFinalTrigger:
    def test_changed_final_row_fails_the_publication(self, tmp_path, db_url):
        """A cent added to one balance as promotion writes the final table: every chunk
        commits (staging is as decoded), but the publication's checks fail and roll it
        back: the final table stays empty and the run keeps its staging rows."""
        store, run = failed_run(tmp_path, db_url, FINAL, "balance", "{row}balance + 0.01",
                                "{row}cust_id = 17")
        summary = run.summary
        assert "total_balance_final" in summary.message
        assert "content_hash_final" in summary.message
        assert count(store, f"SELECT count(*) FROM {FINAL}") == 0
        assert count(store, f"SELECT count(*) FROM {STAGING} WHERE run_id = :r",
                     r=summary.run_id) == 6_000
        failed = {c["check_name"] for c in store.checks(summary.run_id) if not c["passed"]}
        assert failed == {"total_balance_final", "content_hash_final"}
        store.close()
        run.store.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_stored_proofs_are_what_the_processors_decoded(tmp_path, db_url):
    """Each chunk's proof row holds the measure its ledger row's processor side equals,
    and the row-wise rules' counts by name."""
    run = load(tmp_path, db_url)
    assert run.summary.status == "COMPLETED", run.summary.message
    proofs = run.store.chunk_proofs(run.config.run_id)
    for chunk in run.store.ledger(run.config.run_id):
        proof = proofs[chunk.chunk_id]
        assert (proof.rows_found, proof.content_hash) == (chunk.rows_loaded,
                                                          int(chunk.content_hash))
        assert {k: str(v) for k, v in proof.totals.items()} == json.loads(chunk.totals)
        assert set(proof.flagged) == {"rule_not_null_cust_id", "rule_allowed_acct_type",
                                      "rule_allowed_status_code"}
    run.store.close()


def repeated_keys_file(path, n: int) -> str:
    """An FB file whose last 10 records repeat the keys of the first 10."""
    record = load_layout(LAYOUT).record()
    values = synthesize(record, n, 5, OPTIONS)
    values["cust_id"] = np.arange(n, dtype=np.int64) % (n - 10) + 1
    rows = encode_records(record, values, n, OPTIONS)
    path.write_bytes(write_records(rows, None, FramingOptions("FB", lrecl=record.size)))
    return str(path)


def restarted_after(tmp_path, db_url, change: str, **overrides: object
                    ) -> tuple[RunStore, LoadedRun, str]:
    """A run failed at publication by a final-table trigger, then, the trigger dropped,
    staging changed by ``change`` (``:r``: the run id), then restarted: which fails (65)."""
    store, run = failed_run(tmp_path, db_url, FINAL, "balance", "{row}balance + 0.01",
                            "{row}cust_id = 17", **overrides)
    run_id = run.summary.run_id
    drop_trigger(store, FINAL)
    with store.engine.begin() as c:
        c.execute(sa.text(change), {"r": run_id})
    again = restart_run(run_id, db_url)
    assert (again.status, again.exit_code) == ("FAILED", 65), again.message
    return store, run, run_id


class TestTamperBetweenFailureAndRestart:
    """A run that failed at publication is changed in staging before it is restarted: the
    chunk proofs were taken before the change, so the restart's publication must see it in
    what promotion wrote (the final side against the ledger), or, when a key repeats and
    promotion takes a part of staging, by scanning staging again."""

    @pytest.mark.parametrize("repeated", [False, True], ids=["unique-keys", "repeated-keys"])
    def test_staging_changed_before_restart_fails_the_publication(self, tmp_path, db_url,
                                                                  repeated):
        overrides = dict(input_path=repeated_keys_file(tmp_path / "dup.dat", 6_000),
                         duplicate_keys="warn", rules=(Rule.parse("not_null:cust_id"),)
                         ) if repeated else {}
        store, run, run_id = restarted_after(  # a name changed: counts and totals stay
            tmp_path, db_url, f"UPDATE {STAGING} SET cust_name = 'CHANGED' WHERE run_id = :r "
                              "AND record_no = 3333", **overrides)
        failed = {c["check_name"]: c for c in store.checks(run_id)
                  if not c["passed"] and c["severity"] == "fail"}
        if repeated:
            assert set(failed) == {"content_hash_staging"}
            assert failed["content_hash_staging"]["proof"] == "scan"
            assert any("records changed: 3333" in d
                       for d in failed["content_hash_staging"]["details"])
        else:
            assert set(failed) == {"content_hash_final"}
            assert failed["content_hash_final"]["proof"] == "publish"
        assert count(store, f"SELECT count(*) FROM {FINAL}") == 0
        store.close()
        run.store.close()

    def test_staging_row_deleted_before_restart_fails_the_publication(self, tmp_path, db_url):
        """A keyed run's staging row deleted after its chunk committed: promotion takes one
        row fewer than the chunks proved, so staging is scanned, and its count fails."""
        store, run, run_id = restarted_after(
            tmp_path, db_url, f"DELETE FROM {STAGING} WHERE run_id = :r AND record_no = 3333")
        checks = {c["check_name"]: c for c in store.checks(run_id)}
        assert not checks["staging_rows"]["passed"]
        assert checks["staging_rows"]["proof"] == "scan"
        assert (checks["staging_rows"]["expected"], checks["staging_rows"]["actual"]) == (
            "6000", "5999")
        assert count(store, f"SELECT count(*) FROM {FINAL}") == 0
        store.close()
        run.store.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_run_without_chunk_proofs_is_proved_by_scanning(tmp_path, db_url):
    """A run whose chunks have no proof rows (loaded by an earlier mfpipe, or one chunk's
    missing) has its staging side measured by a scan: every check still runs and passes."""
    run = load(tmp_path, db_url)
    run_id = run.config.run_id
    with run.store.engine.begin() as c:
        c.execute(sa.text("DELETE FROM mfp_chunk_proof WHERE run_id = :r AND chunk_id = 3"),
                  {"r": run_id})
    subject = RunSubject.load(run.store, run_id)
    staging = measure_staging(subject)
    assert proved_chunks(subject) is None and staging.proof == "scan"
    report = ReconciliationService(run.store).check(subject, Measurements(
        staging, *measure_final(subject)))
    assert report.passed
    assert {c.proof for c in report.checks if c.check.endswith("_staging")} == {"scan"}
    run.store.close()
