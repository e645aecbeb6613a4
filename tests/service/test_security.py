"""Who may do what, and what never leaks: tokens (none, wrong, read-only, full), job files and
inputs outside what the jobs folder allows, problem documents, security headers, and no
database password in any response."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from mfpipe.errors import ConfigError
from mfpipe.service.app import create_app
from mfpipe.service.settings import ServiceSettings, Token, read_tokens
from tests.service.conftest import launch, wait_batch

FULL = Token("night-ops", "f" * 24)
READER = Token("auditor", "r" * 24, read_only=True)
ITEM = {"job_file": "customers.toml"}


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'mfpipe.db'}"


@pytest.fixture
def db_url(sqlite_url):
    """These tests need one database, not each kind."""
    return sqlite_url


def bearer(token: Token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.secret}"}


class TestTokens:
    def test_without_a_valid_token_nothing(self, service, jobs):
        jobs.files(50)
        with service((FULL, READER)) as client:
            for headers in ({}, {"Authorization": "Bearer wrong-wrong-wrong-wrong"},
                            {"Authorization": f"Basic {FULL.secret}"}):
                answer = client.get("/runs", headers=headers)
                assert answer.status_code == 401, headers
                assert answer.headers["www-authenticate"] == "Bearer"
                assert answer.headers["content-type"] == "application/problem+json"
                refused = client.post("/batch/jobs", json={"jobs": [ITEM]}, headers=headers)
                assert refused.status_code == 401

    def test_a_read_only_token_reads_and_changes_nothing(self, service, jobs):
        jobs.files(50)
        with service((FULL, READER)) as client:
            assert client.get("/runs", headers=bearer(READER)).status_code == 200
            refused = client.post("/batch/jobs", json={"jobs": [ITEM]}, headers=bearer(READER))
            assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
            batch_id = client.post("/batch/jobs", json={"jobs": [ITEM]},
                                   headers=bearer(FULL)).json()["batch_id"]
            for action in ("cancel", "retry"):
                answer = client.post(f"/batch/jobs/{batch_id}/{action}", headers=bearer(READER))
                assert answer.status_code == 403
            assert client.delete(f"/batch/jobs/{batch_id}",
                                 headers=bearer(READER)).status_code == 403
            batches = client.get("/batch/jobs", headers=bearer(READER)).json()["items"]
            assert batches[0]["requested_by"] == "night-ops"

    def test_a_service_other_hosts_reach_needs_tokens(self, tmp_path):
        with pytest.raises(ConfigError, match="--host 0.0.0.0 lets other hosts in"):
            ServiceSettings.of("sqlite://", tmp_path, "0.0.0.0", None, "")
        assert ServiceSettings.of("sqlite://", tmp_path, "0.0.0.0", None,
                                  FULL.secret).tokens[0].secret == FULL.secret
        assert ServiceSettings.of("sqlite://", tmp_path, "127.0.0.1", None, "").tokens == ()

    def test_token_files(self, tmp_path):
        path = tmp_path / "tokens"
        path.write_text(f"# who may call\nops:{FULL.secret}\n\naudit:{READER.secret}:read-only\n")
        assert read_tokens(str(path)) == (Token("ops", FULL.secret),
                                          Token("audit", READER.secret, True))
        for bad in ("ops:short", "ops", f"ops:{FULL.secret}:admin", f":{FULL.secret}"):
            path.write_text(bad + "\n")
            with pytest.raises(ConfigError, match="line 1"):
                read_tokens(str(path))


class TestOnlyWhatTheJobsFolderAllows:
    def test_job_files_outside_the_folder(self, client, jobs, tmp_path):
        (tmp_path / "outside.toml").write_text((jobs.root / "customers.toml").read_text())
        (jobs.root / "link.toml").symlink_to(tmp_path / "outside.toml")
        for name in ("../outside.toml", str(tmp_path / "outside.toml"), "link.toml",
                     "in/../../outside.toml", "missing.toml", "in"):
            answer = client.post("/batch/jobs", json={"jobs": [{"job_file": name}]})
            assert answer.status_code == 403, (name, answer.json())
            assert answer.json()["code"] == "MFP-4002"

    def test_inputs_the_job_file_does_not_name(self, client, jobs, tmp_path):
        (path,) = jobs.files(50)
        (tmp_path / "secret.dat").write_bytes(b"\x40" * 100)
        (jobs.root / "in" / "sub").mkdir()
        (jobs.root / "in" / "sub" / "deep.dat").write_bytes(b"\x40" * 100)  # not in/*.dat
        for given in (str(tmp_path / "secret.dat"), str(jobs.root / "in/../../secret.dat"),
                      str(jobs.root / "customers.toml"), str(jobs.root / "in/sub/deep.dat")):
            answer = client.post("/batch/jobs", json={"jobs": [{**ITEM, "input": given}]})
            assert answer.status_code == 403, (given, answer.json())
        ok = client.post("/batch/jobs", json={"jobs": [{**ITEM, "input": path}]})
        assert ok.status_code == 202 and ok.json()["operations"] == 1

    def test_a_job_file_into_another_database(self, client, jobs):
        (jobs.root / "elsewhere.toml").write_text((jobs.root / "customers.toml").read_text()
                                                  .replace("[target]", "[target]\ndb = "
                                                           '"postgresql://ops:hunter2@x/prod"'))
        jobs.files(10)
        answer = client.post("/batch/jobs", json={"jobs": [{"job_file": "elsewhere.toml"}]})
        assert answer.status_code == 422 and "not into this service's database" in \
            answer.json()["detail"]
        assert "hunter2" not in answer.text

    def test_malformed_requests_are_problems(self, client):
        for body in ({}, {"jobs": []}, {"jobs": [ITEM], "max_workers": 0},
                     {"jobs": [ITEM], "shell": "rm -rf /"}):
            answer = client.post("/batch/jobs", json=body)
            assert answer.status_code == 422, body
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["exit_code"] == 64


class TestHeadersAndSecrets:
    def test_every_answer_has_the_security_headers(self, client):
        for path in ("/runs", "/runs/nope", "/batch/jobs", "/no/such/route"):
            headers = client.get(path).headers
            assert "script-src 'self'" in headers["content-security-policy"]
            assert "unsafe-inline" not in headers["content-security-policy"].split(
                "script-src")[1].split(";")[0]
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["x-frame-options"] == "DENY"

    def test_no_password_in_any_answer(self, jobs, postgres_url):
        """A database URL with a password (trust authentication ignores it): no response
        of a whole launch, its progress, operations, runs and reports holds it."""
        secret = "pw-never-shown-9271"
        url = postgres_url.replace("postgres@", f"postgres:{secret}@", 1)
        jobs.files(100)
        jobs.bad()
        with TestClient(create_app(ServiceSettings(url, jobs.root.resolve())),
                        base_url="http://127.0.0.1") as client:
            batch_id = launch(client, ITEM)
            texts = [client.get(f"/batch/jobs/{batch_id}/progress").text]
            wait_batch(client, batch_id)
            texts += [client.get(path).text for path in (
                f"/batch/jobs/{batch_id}", f"/batch/jobs/{batch_id}/operations",
                f"/batch/jobs/{batch_id}/export", "/runs", "/batch/statistics")]
            for run in client.get("/runs").json()["items"]:
                texts += [client.get(f"/runs/{run['run_id']}").text]
                texts += [client.get(f"/runs/{run['run_id']}/report",
                                     params={"format": f}).text for f in ("html", "text")]
        assert os.environ.get("MFPIPE_DB") != url
        assert not [t for t in texts if secret in t]
