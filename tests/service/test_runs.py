"""The runs API serves every run of the database, the CLI's too: a run launched from a shell
is watched, cancelled and restarted through the service; its rejects come in pages."""

from __future__ import annotations

import time

from tests.jobs.support import RUN_ARGS, keyed_file, launcher, wait_for_commits
from tests.jobs.test_concurrency import published


def wait_run(client, run_id: str, status: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/runs/{run_id}").json()["run"]
        if run["status"] == status:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} is {run['status']}, not {status}")


def test_a_cli_run_cancelled_and_restarted_from_the_service(client, tmp_path, db_url):
    path = keyed_file(tmp_path / "in.dat", 200_000)
    process = launcher(["run", "--input", path, *RUN_ARGS, "--db", db_url,
                        "--chunk-records", "4000"], tmp_path)
    wait_for_commits(db_url, 1)
    (run,) = client.get("/runs").json()["items"]
    moving = client.get(f"/runs/{run['run_id']}/progress").json()
    assert moving["phase"] == "loading" and 0 < moving["fraction"] < 1, moving
    assert moving["records_read"] >= 4000 and moving["file_bytes"] == 200_000 * 100
    assert client.post(f"/runs/{run['run_id']}/cancel", json={}).status_code == 202
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, (out[-3000:], err[-6000:])
    wait_run(client, run["run_id"], "STOPPED")
    assert client.get(f"/runs/{run['run_id']}/progress").json()["phase"] == "stopped"
    assert published(db_url) == {}  # stopped before it published
    assert client.post(f"/runs/{run['run_id']}/cancel", json={}).status_code == 409  # not running

    assert client.post(f"/runs/{run['run_id']}/restart", json={}).status_code == 202
    wait_run(client, run["run_id"], "COMPLETED")
    assert published(db_url) == {run["run_id"]: 200_000}
    done = client.get(f"/runs/{run['run_id']}/progress").json()
    assert (done["phase"], done["fraction"], done["records_read"]) == ("completed", 1.0, 200_000)
    refused = client.post(f"/runs/{run['run_id']}/restart", json={})
    assert refused.status_code == 409 and "only a FAILED or STOPPED run" in \
        refused.json()["detail"]


def test_rejects_in_pages(client, tmp_path, db_url):
    from tests.jobs.support import main_json

    path = tmp_path / "in.dat"
    keyed_file(path, 1000)
    data = bytearray(path.read_bytes())
    for record in (3, 10, 500):  # a letter in the zoned key: a reject each
        data[record * 100] = 0xC1
    path.write_bytes(bytes(data))
    code, summary = main_json(["run", "--input", str(path), *RUN_ARGS, "--db", db_url],
                              tmp_path)
    assert code == 0, summary
    first = client.get(f"/runs/{summary['run_id']}/rejects", params={"page_size": 2}).json()
    rest = client.get(f"/runs/{summary['run_id']}/rejects",
                      params={"page_size": 2, "page": 2}).json()
    assert first["total"] == 3
    assert [r["record_no"] for r in first["items"] + rest["items"]] == [4, 11, 501]
    assert first["items"][0]["raw_hex"].startswith("C1")
    assert client.get("/runs/nope/rejects").status_code == 404
