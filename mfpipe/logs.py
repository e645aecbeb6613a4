"""structlog set-up: logs go to stderr, human-readable on a terminal and JSON lines otherwise."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.tracebacks import ExceptionDictTransformer


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog for the process; stdout stays free for results and ``--json``.
    ``fmt``: ``json``, ``console``, or ``auto`` (console on a terminal, JSON otherwise).

    Tracebacks never show local variables: a frame's locals hold the database URL, with
    its password, and the rows being loaded."""
    terminal = sys.stderr.isatty() if fmt == "auto" else fmt == "console"
    renderers = ([structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.RichTracebackFormatter(
            color_system=None, show_locals=False))] if terminal
        else [structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False)), structlog.processors.JSONRenderer()])
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    *renderers],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # look sys.stderr up per logger, not once: it may be replaced after configuration
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
