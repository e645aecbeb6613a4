"""Dispatch by format name, and the layering of the report package."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mfpipe.report import FORMATS, render, render_html, render_json, render_text
from tests.support import ROOT


class TestRender:
    def test_formats_dispatch_to_their_renderer(self, full_report):
        """Each name in FORMATS renders what its renderer renders."""
        renderers = {"text": render_text, "html": render_html, "json": render_json}
        assert set(FORMATS) == set(renderers)
        for fmt in FORMATS:
            assert render(full_report, fmt) == renderers[fmt](full_report)

    def test_unknown_format_is_a_value_error(self, full_report):
        """An unknown format name raises ValueError listing the known ones."""
        with pytest.raises(ValueError, match="text, html, json"):
            render(full_report, "pdf")

    def test_report_imports_no_cli_or_jobs(self):
        """Importing mfpipe.report loads neither mfpipe.cli nor mfpipe.jobs."""
        code = ("import sys, mfpipe.report; "
                "sys.exit(any(m.startswith(('mfpipe.cli', 'mfpipe.jobs')) for m in sys.modules))")
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60, check=False)
        assert result.returncode == 0
