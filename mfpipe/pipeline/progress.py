"""A progress bar (rich) on a terminal, records per second; silent when not a TTY."""

from __future__ import annotations

import sys


class Progress:
    """Bytes framed of the input, with a records/s rate; a no-op when disabled."""

    def __init__(self, total_bytes: int = 0, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = None
        self.records = 0
        if self.enabled:
            from rich.progress import (BarColumn, DownloadColumn, TextColumn,
                                       TimeRemainingColumn)
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("loading"), BarColumn(), DownloadColumn(),
                                     TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                     transient=True)
            self._task = self._bar.add_task("load", total=total_bytes or None, rate="")
            self._bar.start()

    def advance(self, records: int, byte_length: int) -> None:
        self.records += records
        if self._bar is not None:
            task = self._bar.tasks[0]
            rate = self.records / task.elapsed if task.elapsed else 0
            self._bar.update(self._task, advance=byte_length, rate=f"{rate:,.0f} records/s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
