"""SIGTERM and SIGINT stop every run of the launcher at a chunk boundary, in any thread.

Python runs signal handlers in the main thread only, and only the main thread may install
them; with ``--parallel-files`` the engines run in other threads. So the launcher installs
one handler for the whole launch (:func:`handled`), every engine registers its stop while
it runs (:func:`stopping`), and the handler asks each of them to stop. Runs not started yet
see :func:`requested` and do not start. This is what Airflow's timeout (SIGTERM) and an
operator's Ctrl-C mean: stop cleanly, restartable.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_stops: set[Callable[[], None]] = set()
_lock = threading.Lock()
_requested = threading.Event()
_depth = 0  # handled() blocks open in the main thread: only the outermost starts afresh


def _handler(*_: object) -> None:
    _requested.set()
    with _lock:
        stops = list(_stops)
    for stop in stops:
        stop()


@contextmanager
def handled() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT stop the registered runs (installed from the
    main thread; elsewhere, e.g. an embedding application's thread, nothing is installed and
    the application's own handling stays)."""
    global _depth
    previous: dict[int, Any] = {}
    for sig in _SIGNALS:
        try:
            previous[sig] = signal.signal(sig, _handler)
        except ValueError:  # not the main thread
            pass
    if previous:
        if not _depth:  # a launch begins: an earlier launch's signal is not this one's
            _requested.clear()
        _depth += 1
    try:
        yield
    finally:
        if previous:
            _depth -= 1
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def stopping(stop: Callable[[], None]) -> Iterator[None]:
    """Register a run's stop for as long as it runs; a signal already received stops it at
    once."""
    with _lock:
        _stops.add(stop)
    if _requested.is_set():
        stop()
    try:
        yield
    finally:
        with _lock:
            _stops.discard(stop)


def requested() -> bool:
    """Has the launcher been asked to stop (no further run should start)?"""
    return _requested.is_set()
