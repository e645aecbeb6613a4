"""Progress where no terminal is: periodic log lines with records, rate, percent and ETA."""

from __future__ import annotations

from structlog.testing import capture_logs

from mfpipe.pipeline.progress import Progress


class TestProgressLines:
    def test_lines_say_how_far_and_how_long(self):
        """Without a terminal, a line goes to the log at most every ``every_s`` seconds,
        with records, records/s, percent of the file and the time left; a resumed run's
        percent counts what earlier attempts loaded."""
        progress = Progress(bar=False, every_s=1e-9)
        with capture_logs() as logs:
            progress.start("r1", total_bytes=1_000, done_bytes=500)
            progress.advance(records=10, byte_length=250)
        (line,) = [e for e in logs if e["event"] == "progress"]
        assert (line["run_id"], line["phase"], line["records"], line["percent"]) == (
            "r1", "load", 10, 75.0)
        assert line["records_per_s"] >= 0 and line["eta_s"] >= 0

    def test_no_lines_when_asked_for_none(self):
        progress = Progress(bar=False, every_s=0)
        with capture_logs() as logs:
            progress.start("r1", 1_000)
            progress.advance(10, 250)
        assert not [e for e in logs if e["event"] == "progress"]


class TestSignals:
    def test_a_signal_before_the_engine_starts_is_kept(self):
        """A SIGTERM while the launch hashes or claims the file (before the engine's own
        handler) still stops the run: the engine's nested handling does not forget it."""
        from mfpipe.pipeline import signals

        stopped = []
        with signals.handled():
            signals._handler()
            with signals.handled(), signals.stopping(lambda: stopped.append(True)):
                assert signals.requested() and stopped == [True]
