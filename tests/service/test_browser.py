"""The console in a real browser: Debian's chromium driven by Playwright (the browser found
on the machine, nothing downloaded), against ``mfpipe serve`` as an operator starts it.

Launch a batch from the page, watch its progress bar move, cancel it (confirming), retry it,
open a run's report; a ``<script>`` in a job's name stays text, and the Content-Security-Policy
stops an injected inline handler. Screenshots of each tab go to ``artifacts/console/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.recon.conftest import keyed_file
from tests.service.conftest import Jobs
from tests.support import ROOT

CHROMIUM = shutil.which("chromium")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not on PATH "
                                                         "(apt-get install chromium)")
ARTIFACTS = Path(os.environ.get("MFPIPE_ARTIFACTS", ROOT / "artifacts")) / "console"
HOSTILE = "<script>window.pwned=1</script>"
HOSTILE_FILE = "<img src=x onerror=window.pwned=3>"  # a file name (no slash)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    """``mfpipe serve`` on a free port, over a SQLite file, with a jobs folder: a big file
    (slow enough to watch and cancel) and a job whose name is a script."""
    jobs = Jobs(tmp_path / "jobs", chunk=500)
    keyed_file(jobs.root / "in" / "big.dat", 600_000)
    keyed_file(jobs.root / "in" / f"{HOSTILE_FILE}.dat", 100, first_key=900_000)
    (jobs.root / "hostile.toml").write_text((jobs.root / "customers.toml").read_text().replace(
        'name = "customers"', f'name = "{HOSTILE}"').replace("in/*.dat", "none/*.dat"))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mfpipe", "serve", "--db", f"sqlite:///{tmp_path / 'm.db'}",
         "--jobs-dir", str(jobs.root), "--port", str(port)], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def page():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.on("dialog", lambda dialog: dialog.accept())  # "are you sure?": yes
        yield tab
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def moved(bar, beyond: float, timeout: float = 120) -> float:
    """The progress bar's value once it is past ``beyond`` (it refreshes every 2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = bar.evaluate("b => b.value")
        if value > beyond:
            return float(value)
        time.sleep(0.3)
    raise AssertionError(f"the progress bar stayed at {beyond}")


def status_of(page) -> str:
    return page.locator("#batch-status").inner_text().strip()


def wait_status(page, url: str, wanted: tuple[str, ...], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto(url)
        if status_of(page) in wanted:
            return status_of(page)
        time.sleep(1)
    raise AssertionError(f"{url} stayed {status_of(page)}")


def test_an_operator_launches_watches_cancels_retries_and_reads(server, page):
    page.goto(f"{server}/ui/")
    shot(page, "1-launch")
    assert page.evaluate("window.pwned") is None
    assert HOSTILE in page.locator("table").inner_text()  # shown as text, never run
    page.evaluate("document.body.insertAdjacentHTML('beforeend', "
                  "'<img src=x onerror=\"window.pwned=2\">')")
    page.wait_for_timeout(500)
    assert page.evaluate("window.pwned") is None  # the CSP refuses inline handlers

    page.locator('input[value="customers.toml"]').check()
    page.locator('input[value="sequential"]').check()
    page.locator("#launch-button").click()
    page.wait_for_url(f"{server}/ui/batches/*")
    batch_url = page.url
    assert HOSTILE_FILE in page.locator("table.operations").inner_text()
    bar = page.locator('tr[data-op]:has-text("big.dat") progress')
    first = moved(bar, 0.0)
    assert 0 < first < 1
    assert moved(bar, first) > first  # the bar moves as chunks commit
    shot(page, "2-batch-running")
    page.goto(f"{server}/ui/active")
    shot(page, "3-active")

    page.goto(batch_url)
    page.get_by_role("button", name="Cancel").click()
    assert wait_status(page, batch_url, ("CANCELLED",)) == "CANCELLED"
    assert "STOPPED" in page.locator("table.operations").inner_text()
    shot(page, "4-batch-cancelled")

    page.get_by_role("button", name="Retry").click()
    assert wait_status(page, batch_url, ("COMPLETED",)) == "COMPLETED"
    shot(page, "5-batch-completed")

    page.locator('tr[data-op]:has-text("big.dat") a').first.click()
    page.wait_for_url(f"{server}/ui/runs/*")
    assert "verdict-ok" in page.locator("#verdict").get_attribute("class")
    shot(page, "6-run-report")
    page.get_by_role("link", name="Rejects (0)").click()
    shot(page, "6-run-rejects")
    for tab, name in (("/ui/history", "7-history"), ("/ui/runs", "8-runs"),
                      ("/ui/statistics", "9-statistics")):
        page.goto(f"{server}{tab}")
        shot(page, name)
    assert page.locator("svg.chart rect").count() >= 2
    assert page.evaluate("window.pwned") is None
