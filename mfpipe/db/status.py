"""A run's status: the states a run goes through, stored as their names in ``mfp_run``."""

from __future__ import annotations

import enum


class RunStatus(enum.StrEnum):
    """A run's status (ARCHITECTURE.md), in the order a run goes through them, as Spring
    Batch's ``BatchStatus``: a launcher claims it (STARTING), loads and publishes it
    (STARTED), may be asked to stop (STOPPING); it ends STOPPED, FAILED or COMPLETED, and
    ABANDONED when superseded or given up. LOADED is the engine's outcome (every chunk
    committed, nothing published yet), never stored. The values are the stored text."""

    STARTING = "STARTING"
    STARTED = "STARTED"
    STOPPING = "STOPPING"
    LOADED = "LOADED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    ABANDONED = "ABANDONED"

    @property
    def active(self) -> bool:
        """A launcher is (or was, if it died) working on the run."""
        return self in (RunStatus.STARTING, RunStatus.STARTED, RunStatus.STOPPING)

    @property
    def restartable(self) -> bool:
        """``restart`` (or a launch of its content) may resume the run."""
        return self in (RunStatus.FAILED, RunStatus.STOPPED)


STARTING, STARTED, STOPPING, LOADED = (RunStatus.STARTING, RunStatus.STARTED, RunStatus.STOPPING,
                                       RunStatus.LOADED)
STOPPED, FAILED, COMPLETED, ABANDONED = (RunStatus.STOPPED, RunStatus.FAILED,
                                         RunStatus.COMPLETED, RunStatus.ABANDONED)
RESTARTABLE = tuple(s for s in RunStatus if s.restartable)
ACTIVE = tuple(s for s in RunStatus if s.active)
