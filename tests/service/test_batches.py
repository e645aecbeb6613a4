"""Bulk launches through the real app, real runner and launcher processes, real databases:
parallel with a worker limit and a failing file, stop on error, cancel mid-run then retry
(each record once), delete, a service restart mid-batch, pages, statistics and export."""

from __future__ import annotations

import csv
import io
import time

from tests.jobs.support import final_fingerprint
from tests.jobs.test_concurrency import published, staged, statuses
from tests.service.conftest import launch, wait_batch

ITEM = {"job_file": "customers.toml"}


def operations(client, batch_id: str) -> list[dict]:
    return client.get(f"/batch/jobs/{batch_id}/operations").json()["items"]


class TestBulkLaunch:
    def test_five_files_two_at_a_time_one_failing(self, client, jobs, db_url):
        """Every file an operation; never more than two running; the bad file's operation
        FAILED with its reason, the batch FAILED, the others loaded exactly once."""
        files = jobs.files(400, 500, 600, 700)
        jobs.bad()
        batch_id = launch(client, ITEM, parallel=True, max_workers=2)
        most = 0
        while client.get(f"/batch/jobs/{batch_id}").json()["status"] not in (
                "COMPLETED", "FAILED", "CANCELLED"):
            running = [op for op in operations(client, batch_id) if op["status"] == "RUNNING"]
            most = max(most, len(running))
            time.sleep(0.1)
        assert most <= 2
        batch = client.get(f"/batch/jobs/{batch_id}").json()
        assert (batch["status"], batch["operations"]) == ("FAILED", {"COMPLETED": 4,
                                                                     "FAILED": 1})
        ops = operations(client, batch_id)
        assert len(ops) == 5 and {op["input_path"] for op in ops} >= set(files)
        failed = next(op for op in ops if op["status"] == "FAILED")
        assert failed["exit_code"] == 65 and "not a multiple of LRECL" in failed["message"]
        loaded = [r for op in ops if op["status"] == "COMPLETED" for r in op["run_ids"]]
        assert sorted(published(db_url).values()) == [400, 500, 600, 700]
        assert set(published(db_url)) == set(loaded)
        progress = client.get(f"/batch/jobs/{batch_id}/progress").json()
        assert progress["records_loaded"] == 2200
        done = [r for op in progress["operations"] for r in op["runs"] if r["fraction"]]
        assert {r["phase"] for r in done} == {"completed"}

    def test_stop_on_error_leaves_the_rest_unstarted(self, client, jobs, db_url):
        jobs.bad("f0.dat")
        jobs.files(300, 300)
        batch_id = launch(client, ITEM, parallel=False, stop_on_error=True)
        batch = wait_batch(client, batch_id)
        assert batch["status"] == "FAILED"
        assert [op["status"] for op in operations(client, batch_id)] == [
            "FAILED", "CANCELLED", "CANCELLED"]
        assert "stop on error" in operations(client, batch_id)[1]["message"]
        from mfpipe.jobs.batches import runner_log

        assert "operation ended" in runner_log(batch_id).read_text()  # the runner's own log
        page = client.get(f"/batch/jobs/{batch_id}/operations",
                          params={"status": "cancelled", "page_size": 1, "page": 2}).json()
        assert (page["total"], [op["op_no"] for op in page["items"]]) == (2, [3])
        assert published(db_url) == {}

    def test_a_file_whose_name_is_a_glob(self, client, jobs, db_url):
        """``f[1].dat`` is loaded, never ``f1.dat`` (which its name matches as a glob)."""
        from tests.recon.conftest import keyed_file

        jobs.files(100)
        odd = keyed_file(jobs.root / "in" / "f[1].dat", 37, first_key=5_000)
        batch_id = launch(client, {**ITEM, "input": odd})
        assert wait_batch(client, batch_id)["status"] == "COMPLETED"
        assert list(published(db_url).values()) == [37]


class TestCancelRetryDelete:
    def test_cancel_mid_run_then_retry_loads_each_record_once(self, service, jobs, db_url):
        """Cancel while the first file loads: its run ends STOPPED at a chunk boundary, the
        second never starts; a retry resumes the stopped run (the same run id) and loads the
        second; the final table holds every record once; then the batch is deleted."""
        big, small = jobs.files(150_000, 2_000)
        with service() as client:
            batch_id = launch(client, ITEM, parallel=False)
            wait_batch(client, batch_id, lambda b: client.get(
                f"/batch/jobs/{batch_id}/progress").json()["records_read"] > 0)
            refused = client.delete(f"/batch/jobs/{batch_id}")
            assert refused.status_code == 409 and refused.json()["exit_code"] == 64
            assert client.post(f"/batch/jobs/{batch_id}/cancel", json={}).status_code == 202
            batch = wait_batch(client, batch_id)
            assert batch["status"] == "CANCELLED", batch
            first, second = operations(client, batch_id)
            assert (first["status"], first["exit_code"], second["status"]) == (
                "STOPPED", 143, "CANCELLED")
            (stopped,) = first["run_ids"]
            assert statuses(db_url)[stopped] == "STOPPED"

            retried = client.post(f"/batch/jobs/{batch_id}/retry", json={})
            assert retried.status_code == 202 and retried.json()["retried"] == 2
            assert wait_batch(client, batch_id)["status"] == "COMPLETED"
            first, second = operations(client, batch_id)
            assert first["run_ids"] == [stopped] and first["tries"] == 2
            assert published(db_url) == {stopped: 150_000, second["run_ids"][0]: 2_000}
            assert final_fingerprint(db_url, stopped)[0] == 150_000
            again = client.post(f"/batch/jobs/{batch_id}/retry", json={})
            assert again.status_code == 409  # nothing left to retry

            gone = client.delete(f"/batch/jobs/{batch_id}")
            assert gone.status_code == 200 and gone.json()["purged_rows"] == 152_000
            assert client.get(f"/batch/jobs/{batch_id}").status_code == 404
            assert staged(db_url) == {}
            assert set(statuses(db_url).values()) == {"COMPLETED"}  # history is kept

    def test_a_service_restart_mid_batch_loses_nothing(self, service, jobs, db_url):
        """The batch runs in processes of its own: the service stopped and started again
        finds it still running, and it completes."""
        jobs.files(60_000, 60_000)
        with service() as first:
            batch_id = launch(first, ITEM, parallel=False)
            wait_batch(first, batch_id, lambda b: b["status"] == "RUNNING")
        with service() as second:
            assert wait_batch(second, batch_id)["status"] == "COMPLETED"
        assert sorted(published(db_url).values()) == [60_000, 60_000]

    def test_a_batch_whose_runner_died_is_failed_at_start_and_retried(self, service, jobs,
                                                                      db_url):
        """A host reboot killed the runner and its launcher: the next service start marks
        the batch and its running operation FAILED (never RUNNING forever); a retry loads
        the files."""
        import subprocess

        from mfpipe.db.batches import BatchStore, OpStatus, Planned
        from mfpipe.db.registry import HOST
        from mfpipe.db.runs import RunStore, utcnow

        (path,) = jobs.files(500)
        dead = subprocess.Popen(["true"])
        dead.wait()
        store = RunStore(db_url)
        store.prepare_control()
        batches = BatchStore(store)
        batches.prepare()
        batch_id = batches.create([Planned(str(jobs.root / "customers.toml"), "customers",
                                           path)], False, 1, False, "local")
        batches.update(batch_id, status="RUNNING", host=HOST, pid=dead.pid)
        batches.update_op(batch_id, 1, status=OpStatus.RUNNING, host=HOST, pid=dead.pid,
                          started_at=utcnow())
        store.close()
        with service() as client:
            batch = client.get(f"/batch/jobs/{batch_id}").json()
            assert (batch["status"], batch["operations"]) == ("FAILED", {"FAILED": 1})
            assert "launcher is gone" in operations(client, batch_id)[0]["message"]
            assert client.post(f"/batch/jobs/{batch_id}/retry", json={}).status_code == 202
            assert wait_batch(client, batch_id)["status"] == "COMPLETED"
        assert list(published(db_url).values()) == [500]


class TestReading:
    def test_pages_filters_statistics_export(self, client, jobs, db_url):
        jobs.files(100, 200, 300)
        batch_id = launch(client, ITEM)
        assert wait_batch(client, batch_id)["status"] == "COMPLETED"
        first = client.get("/runs", params={"page_size": 2}).json()
        second = client.get("/runs", params={"page_size": 2, "page": 2}).json()
        assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
        assert len({r["run_id"] for r in first["items"] + second["items"]}) == 3
        assert client.get("/runs", params={"status": "failed"}).json()["total"] == 0
        listed = client.get("/batch/jobs", params={"job": "customers"}).json()
        assert [b["batch_id"] for b in listed["items"]] == [batch_id]
        assert client.get("/batch/jobs", params={"status": "FAILED"}).json()["total"] == 0

        stats = client.get("/batch/statistics").json()
        assert (stats["runs"], stats["success_rate"], stats["days"][0]["records_read"]) == (
            3, 1.0, 600)
        rows = list(csv.DictReader(io.StringIO(
            client.get(f"/batch/jobs/{batch_id}/export", params={"format": "csv"}).text)))
        assert [r["status"] for r in rows] == ["COMPLETED"] * 3
        exported = client.get(f"/batch/jobs/{batch_id}/export").json()
        assert exported["batch"]["batch_id"] == batch_id and len(exported["operations"]) == 3

        run_id = rows[0]["run_ids"]
        assert client.get(f"/runs/{run_id}").json()["run"]["status"] == "COMPLETED"
        report = client.get(f"/runs/{run_id}/report", params={"format": "text"})
        assert "VERDICT: RECONCILED" in report.text
        assert client.get(f"/runs/{run_id}/report").json()["run"]["run_id"] == run_id
        assert client.post(f"/runs/{run_id}/reconcile", json={}).json()["reconciliation"]["passed"]
