"""The console's pages through the real app: every tab renders, data is escaped, the session
cookie is HttpOnly and SameSite=Strict, changes from a browser need the page's CSRF token,
another site's form cannot change anything, and with tokens a page needs a sign-in."""

from __future__ import annotations

import re

import pytest

from mfpipe.service import sessions
from mfpipe.service.settings import Token
from tests.service.conftest import launch, wait_batch

ITEM = {"job_file": "customers.toml"}
FULL = Token("night-ops", "f" * 24)
READER = Token("auditor", "r" * 24, read_only=True)


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'mfpipe.db'}"


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]*)">', html).group(1)


class TestTabs:
    def test_every_tab_renders_what_the_api_says(self, client, jobs):
        jobs.files(120, 80)
        batch_id = launch(client, ITEM)
        wait_batch(client, batch_id)
        run_id = client.get("/runs").json()["items"][0]["run_id"]
        assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"
        pages = {path: client.get(path) for path in (
            "/ui/", "/ui/active", "/ui/history", "/ui/runs", "/ui/statistics",
            f"/ui/batches/{batch_id}", f"/ui/runs/{run_id}", f"/ui/runs/{run_id}/rejects")}
        for path, page in pages.items():
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert "<script>" not in page.text and 'src="/static/console.js"' in page.text
        assert "customers.toml" in pages["/ui/"].text
        assert batch_id in pages["/ui/history"].text
        assert 'id="verdict" class="verdict verdict-ok"' in pages[f"/ui/runs/{run_id}"].text
        assert pages["/ui/statistics"].text.count('class="bar-rect"') >= 2
        batch = pages[f"/ui/batches/{batch_id}"].text
        assert batch.count("data-op=") == 2 and "Retry" in batch and "data-confirm" in batch
        for asset in ("/static/console.js", "/static/console.css", "/docs",
                      "/docs-assets/swagger-ui-bundle.js", "/openapi.json"):
            assert client.get(asset).status_code == 200, asset

    def test_data_and_file_names_are_escaped(self, client, jobs):
        hostile = '<script>window.pwned=1</script>'
        (jobs.root / "x.toml").write_text(
            (jobs.root / "customers.toml").read_text().replace(
                'name = "customers"', f'name = "{hostile}"'))
        (jobs.root / "broken.toml").write_text(f'[{hostile}]\n')
        page = client.get("/ui/").text
        assert hostile not in page and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page


class TestSessionsAndCsrf:
    def test_the_session_cookie_and_the_csrf_token(self, client, jobs):
        jobs.files(50)
        page = client.get("/ui/")
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        token = csrf_of(page.text)
        refused = client.post("/batch/jobs", json={"jobs": [ITEM]})  # the cookie, no token
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        forged = client.post("/batch/jobs", json={"jobs": [ITEM]},
                             headers={sessions.CSRF_HEADER: "x" + token[1:]})
        assert forged.status_code == 403
        ok = client.post("/batch/jobs", json={"jobs": [ITEM]},
                         headers={sessions.CSRF_HEADER: token})
        assert ok.status_code == 202

    def test_another_sites_form_changes_nothing(self, client, jobs):
        """A cross-site form POST carries no cookie (SameSite=Strict) and cannot send JSON:
        refused; a page of another host name (DNS rebinding) is refused outright."""
        jobs.files(50)
        batch_id = launch(client, ITEM)
        wait_batch(client, batch_id)
        client.cookies.clear()
        for headers in ({"Content-Type": "application/x-www-form-urlencoded"},
                        {"Content-Type": "text/plain"}, {}):
            answer = client.post(f"/batch/jobs/{batch_id}/retry", content=b"a=1",
                                 headers=headers)
            assert answer.status_code == 403, headers
        assert client.get("/ui/", headers={"Host": "evil.example"}).status_code == 400

    def test_with_tokens_a_page_needs_a_sign_in(self, service, jobs):
        jobs.files(50)
        with service((FULL, READER)) as client:
            first = client.get("/ui/", follow_redirects=False)
            assert (first.status_code, first.headers["location"]) == (303, "/ui/login")
            assert client.get("/ui/login").status_code == 200
            wrong = client.post("/ui/login", json={"token": "nope-nope-nope-nope"})
            assert wrong.status_code == 401 and sessions.COOKIE not in client.cookies
            assert client.post("/ui/login", json={"token": READER.secret}).status_code == 200
            page = client.get("/ui/")
            assert page.status_code == 200 and "auditor (read-only)" in page.text
            assert 'id="launch-button" disabled' in page.text
            refused = client.post("/batch/jobs", json={"jobs": [ITEM]},
                                  headers={sessions.CSRF_HEADER: csrf_of(page.text)})
            assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
            client.cookies.set(sessions.COOKIE, client.cookies[sessions.COOKIE][:-2] + "00")
            assert client.get("/ui/", follow_redirects=False).status_code == 303  # forged
