"""Progress of a load: a bar on a terminal, periodic log lines everywhere else.

An operator watching a terminal gets a rich bar with the file's size, records/s and the
time left; a scheduler's log (cron, Airflow: no TTY) gets a structured ``progress`` line
every ``every_s`` seconds with records, rate, percent, ETA and phase, so that a long night
is visibly alive and its end can be estimated.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import structlog

log = structlog.get_logger()


class Progress:
    """Bytes framed of the input, records and their rate; ``bar`` None: a bar on a terminal,
    log lines otherwise; ``every_s`` 0: no log lines."""

    def __init__(self, bar: bool | None = None, every_s: float = 30.0) -> None:
        self.bar = sys.stderr.isatty() if bar is None else bar
        self.every_s = every_s
        self.records = 0  # this attempt's
        self._total = self._done = self._bytes = 0
        self._run_id = ""
        self._started = self._logged = time.monotonic()
        self._bar: Any = None

    def start(self, run_id: str, total_bytes: int, done_bytes: int = 0) -> None:
        """A load begins: ``total_bytes`` of records, ``done_bytes`` of them loaded by an
        earlier attempt."""
        self._run_id, self._total, self._done = run_id, total_bytes, done_bytes
        self._started = self._logged = time.monotonic()
        if self.bar:
            from rich.progress import (BarColumn, DownloadColumn, TextColumn,
                                       TimeRemainingColumn)
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("loading"), BarColumn(), DownloadColumn(),
                                     TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                     transient=True)
            self._task = self._bar.add_task("load", total=total_bytes or None,
                                            completed=done_bytes, rate="")
            self._bar.start()

    def advance(self, records: int, byte_length: int) -> None:
        """A chunk committed."""
        self.records += records
        self._done += byte_length
        self._bytes += byte_length
        elapsed = time.monotonic() - self._started
        rate = self.records / elapsed if elapsed > 0 else 0.0
        if self._bar is not None:
            self._bar.update(self._task, advance=byte_length, rate=f"{rate:,.0f} records/s")
        elif self.every_s and time.monotonic() - self._logged >= self.every_s:
            self._logged = time.monotonic()
            percent = 100.0 * self._done / self._total if self._total else 100.0
            bytes_rate = self._bytes / elapsed if elapsed > 0 else 0.0
            left = (self._total - self._done) / bytes_rate if bytes_rate else 0.0
            log.info("progress", run_id=self._run_id, phase="load", records=self.records,
                     records_per_s=round(rate), percent=round(percent, 1),
                     eta_s=round(left, 1))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
