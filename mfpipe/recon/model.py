"""The reconciliation result model: one object per run, rendered by every report format.

The checks and the report are built from what the database holds (control tables, staging
and final), so ``mfpipe report RUN_ID`` shows the same thing tomorrow as the launcher did
tonight. Every field is plain data (str, int, float, bool, tuples of dataclasses), so the
JSON form is ``dataclasses.asdict`` with a schema version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["fail", "warn"]
REPORT_SCHEMA_VERSION = 1
RECONCILED, WITH_WARNINGS, NOT_RECONCILED = ("RECONCILED", "RECONCILED WITH WARNINGS",
                                             "NOT RECONCILED")
# How a check's database side was measured: by each writer inside its chunk's transaction
# (summed over the ledger), inside the publishing transaction as promotion wrote the rows,
# or by a scan of the table (at publication for the rules that look at many rows at once;
# for every check in an audit, `mfpipe reconcile`)
PROOF_CHUNK, PROOF_PUBLISH, PROOF_SCAN = "chunk", "publish", "scan"
PROOF_LEGEND = ("Proof: chunk = measured by each writer inside its chunk's load transaction "
                "(summed over the ledger); publish = measured inside the publishing "
                "transaction; scan = a scan of the table")


@dataclass(frozen=True)
class CheckResult:
    """One check: what was expected, what was found, and whether that is acceptable.

    ``details`` narrows a failure down: the chunks, workers or keys that differ, each one
    line an operator can act on (at most a handful; the check says how many there were).
    """

    check: str
    type: str
    expected: str
    actual: str
    passed: bool
    severity: Severity = "fail"
    discrepancy: str = ""
    details: tuple[str, ...] = ()
    proof: str = ""  # PROOF_CHUNK, PROOF_PUBLISH or PROOF_SCAN; "" where nothing was measured


@dataclass(frozen=True)
class RunInfo:
    """The run being reported on, as ``mfp_run`` records it (the database URL redacted)."""

    run_id: str
    job: str
    file: str
    status: str
    exit_code: int | None
    message: str
    started_at: str  # ISO 8601, UTC
    ended_at: str
    elapsed_s: float
    cpu_s: float
    database: str
    staging_table: str
    final_table: str


@dataclass(frozen=True)
class Counts:
    """SQL*Loader's counters for the run; ``final`` is the final table's rows of this run."""

    read: int
    loaded: int
    rejected: int
    discarded: int
    final: int
    skipped: int = 0
    nulled: dict[str, int] = field(default_factory=dict)  # invalid numerics loaded as NULL


@dataclass(frozen=True)
class WorkerStats:
    """One processor's share of the run, from the chunk ledger; its throughput is records
    read per second of its own decoding time (over every attempt)."""

    worker_id: int
    read: int
    loaded: int
    rejected: int
    chunks: int
    records_per_s: float
    busy_s: float = 0.0


@dataclass(frozen=True)
class AttemptInfo:
    """One launcher's go at the run (Spring Batch's job execution): when, how it ended,
    what it added to the ledger, and where its time went."""

    attempt: int
    command: str
    started_at: str
    ended_at: str
    status: str
    exit_code: int | None
    records_loaded: int
    elapsed_s: float
    load_s: float
    publish_s: float
    cpu_s: float


@dataclass(frozen=True)
class RejectSample:
    """One rejected record, as ``mfp_reject`` holds it (raw bytes in hex, shortened)."""

    record_no: int
    byte_offset: int
    field: str
    raw_hex: str


@dataclass(frozen=True)
class RejectGroup:
    """Rejects of one reason and field, with a few samples."""

    reason: str
    field: str
    count: int
    samples: tuple[RejectSample, ...] = ()


@dataclass(frozen=True)
class HistoryEntry:
    """An earlier run of the same job."""

    run_id: str
    started_at: str
    status: str
    read: int
    loaded: int
    rejected: int
    elapsed_s: float


@dataclass(frozen=True)
class HistoryStat:
    """Today's value of one metric against the last runs of the job: flagged when outside."""

    metric: str  # read, loaded, rejected, elapsed_s
    today: float
    minimum: float
    mean: float
    maximum: float
    flagged: bool


@dataclass
class ReconciliationReport:
    """Everything an operator signs off on for one run."""

    run: RunInfo
    counts: Counts
    checks: list[CheckResult] = field(default_factory=list)
    workers: list[WorkerStats] = field(default_factory=list)
    attempts: list[AttemptInfo] = field(default_factory=list)
    rejects: list[RejectGroup] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    history_stats: list[HistoryStat] = field(default_factory=list)
    restart_hint: str = ""  # the command to run when the run did not complete
    generated_at: str = ""
    notes: list[str] = field(default_factory=list)  # what the operator should know besides

    @property
    def passed(self) -> bool:
        """True when no fail-severity check failed (warnings do not fail a run)."""
        return all(c.passed or c.severity == "warn" for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """Names of the fail-severity checks that failed."""
        return [c.check for c in self.checks if not c.passed and c.severity == "fail"]

    @property
    def warnings(self) -> list[str]:
        """Names of the warn-severity checks that failed."""
        return [c.check for c in self.checks if not c.passed and c.severity == "warn"]

    @property
    def verdict(self) -> str:
        """What the checks say: RECONCILED, RECONCILED WITH WARNINGS (a warn-severity check
        found something: never shown as a plain green), or NOT RECONCILED (a fail-severity
        check failed, or no check ran)."""
        if not self.passed or not self.checks:
            return NOT_RECONCILED
        return WITH_WARNINGS if self.warnings else RECONCILED

    @property
    def success_rate(self) -> float:
        """Share of checks passed, 0.0-1.0 (1.0 when there are no checks)."""
        return sum(c.passed for c in self.checks) / len(self.checks) if self.checks else 1.0

    def summary(self) -> dict[str, Any]:
        """The ``reconciliation`` member of the run summary (``--json``)."""
        return {"passed": self.passed, "verdict": self.verdict, "failed": self.failed,
                "warnings": self.warnings,
                "success_rate": round(self.success_rate, 4), "check_count": len(self.checks)}

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON report."""
        return {"schema_version": REPORT_SCHEMA_VERSION, **asdict(self), **self.summary()}
