"""The HTML report in a real headless Chromium: charts drawn, injected markup inert.

html.parser only proves the markup is escaped; a browser proves what an operator sees.
Skipped when Debian's ``chromium`` is not installed (CI installs it in .ci/run).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mfpipe.report import render_html
from mfpipe.report.html import page_title
from tests.report.dom import Dom, parse
from tests.report.reports import HOSTILE, hostile_report

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not on PATH (apt-get install chromium)")

_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([str(CHROMIUM), *_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60, check=True)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dom]:
    """The hostile report written to a file and the DOM Chromium made of it."""
    tmp_path = tmp_path_factory.mktemp("browser")
    page = tmp_path / "report.html"
    page.write_text(render_html(hostile_report()), encoding="utf-8")
    dumped = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "<body" in dumped, "chromium dumped no DOM"
    return page, parse(dumped)


class TestBrowser:
    def test_both_charts_render_their_bars(self, rendered):
        """The worker chart has one rect per worker, the history chart one per run and today."""
        report = hostile_report()
        dom = rendered[1]
        assert dom.rects["worker-chart"] == len(report.workers)
        assert dom.rects["history-chart"] == len(report.history) + 1

    def test_injected_script_did_not_run(self, rendered):
        """The title is still the report's: document.title="pwned" never executed."""
        dom = rendered[1]
        assert dom.title == page_title(hostile_report())
        assert "pwned" not in dom.title.split(" - job ")[0]
        assert not any(name == "data-pwned" for _, name, _ in dom.attrs)

    def test_injected_markup_created_no_element(self, rendered):
        """No script, img or on* handler exists in the live DOM."""
        dom = rendered[1]
        assert dom.tags["script"] == dom.tags["img"] == 0
        assert not any(name.startswith("on") for _, name, _ in dom.attrs)

    def test_injected_text_is_visible_as_text(self, rendered):
        """The markup shows up as literal text wherever the data was put."""
        assert rendered[1].all_text.count(HOSTILE) >= 6

    def test_screenshot_renders(self, rendered, tmp_path):
        """A 1200x2000 screenshot is produced (a human looks at it; it is not committed)."""
        shot = tmp_path / "report.png"
        _chromium(tmp_path, "--window-size=1200,2000", f"--screenshot={shot}",
                  rendered[0].as_uri())
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
