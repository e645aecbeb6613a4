"""The fork server that the pipeline's processes start from.

A child forked from a server that has imported what it needs starts in milliseconds; a
spawned one imports pyarrow, NumPy and the parent's main module (the whole CLI) again,
about 1 s of every run. The server's own imports take most of a second, so the loading
commands start it before anything else (:func:`start`), and the CLI's imports run meanwhile
on the other core. This module imports nothing of mfpipe: starting early costs nothing.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing import forkserver
from typing import Any

PROCESS_MODULES = ("mfpipe.pipeline.processor", "mfpipe.pipeline.writer")


def context(*modules: str) -> Any:
    """The fork-server context; a server not yet running will preload the processes'
    modules and ``modules`` (the run's bulk loader)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([*PROCESS_MODULES, *modules])
    return ctx


def start(*modules: str) -> None:
    """Start the fork server now (nothing happens if it runs already)."""
    context(*modules)
    forkserver.ensure_running()
