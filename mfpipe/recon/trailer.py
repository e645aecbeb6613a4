"""Trailer checks: the file's own count and control totals against what was loaded.

The trailer bytes were kept with the run when it began; they are decoded here with the
trailer's 01 record. A trailer total narrower than the sum it checks is a hash total (the
sum keeping only its rightmost digits) and is compared that way. A rejected record's amount
is not in the loaded total, so with rejects a total cannot match: the check says so.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from mfpipe.codec import DecodePlan
from mfpipe.db.digest import exact_sums
from mfpipe.errors import ConfigError
from mfpipe.layout import Field, RecordLayout
from mfpipe.recon.measures import Measurements
from mfpipe.recon.model import CheckResult
from mfpipe.recon.subject import RunSubject


def trailer_checks(subject: RunSubject, measured: Measurements) -> list[CheckResult]:
    """Check #2 of ARCHITECTURE.md, where the job names a trailer record."""
    config = subject.config
    if not config.proof.trailer_record:
        return []
    record = config.source.record(config.proof.trailer_record)
    values = _decode(subject, record)
    if values is None:
        return [CheckResult("trailer", "trailer", "a valid trailer record", "invalid bytes",
                            False, details=(f"trailer bytes: {subject.run.trailer_hex}",))]
    checks = []
    if config.proof.trailer_count:
        checks.append(_count_check(subject, values[config.proof.trailer_count]))
    rejected = int(subject.run.records_rejected or 0)
    rejected += int(subject.run.records_discarded or 0)
    for trailer_column, column in config.proof.trailer_totals:
        expected = Decimal(values[trailer_column] or 0)
        loaded = _loaded_total(subject, measured, column)
        actual, hashed = _as_trailer_holds(loaded, record.field(trailer_column))
        details = [f"hash total: the sum {loaded:f} kept to the trailer's {hashed} digits"] \
            if hashed else []
        if rejected and actual != expected:
            details.append(f"{rejected} rejected or discarded record(s) are not in the "
                           "loaded total")
        checks.append(CheckResult(f"trailer_total_{column}", "trailer", f"{expected:f}",
                                  f"{actual:f}", actual == expected,
                                  discrepancy=f"{actual - expected:f}", details=tuple(details)))
    return checks


def _count_check(subject: RunSubject, expected: Any) -> CheckResult:
    """The trailer's record count against the records read, and those skipped before them
    (``--skip-records``); a run that read part of the file (``--load-records``) cannot
    prove the count: a warning says so, never a pass."""
    run = subject.run
    seen = int(run.records_read or 0) + int(run.records_skipped or 0)
    if subject.config.source.load_records:
        return CheckResult("trailer_count", "trailer", str(expected), f"{seen} read", False,
                           "warn", details=(f"--load-records {subject.config.source.load_records} "
                                            "read part of the file: the trailer's count "
                                            "cannot be checked",))
    return CheckResult("trailer_count", "trailer", str(expected), str(seen), expected == seen,
                       discrepancy=str(seen - int(expected or 0)))


def _decode(subject: RunSubject, record: RecordLayout) -> dict[str, Any] | None:
    """The trailer's values by column, or None when its bytes do not decode."""
    raw = bytes.fromhex(subject.run.trailer_hex or "")[:record.size]
    matrix = np.frombuffer(raw.ljust(record.size, b"\x40"), dtype=np.uint8).reshape(1, -1)
    plan = DecodePlan.compile(record, subject.config.source.decode)
    decoded = plan.decode(matrix, 0, np.zeros(1, dtype=np.int64))
    if decoded.batch.num_rows == 0:
        return None
    row = decoded.batch.to_pylist()[0]
    proof = subject.config.proof
    for name in [proof.trailer_count, *(t for t, _ in proof.trailer_totals)]:
        if name and name not in row:
            raise ConfigError(f"trailer column {name!r} is not in record "
                              f"{subject.config.proof.trailer_record}")
    return row


def _loaded_total(subject: RunSubject, measured: Measurements, column: str) -> Decimal:
    """The column's total over the run's staging rows (already measured for money columns)."""
    if column not in subject.staging.c:
        raise ConfigError(f"trailer total names column {column!r}, which the layout lacks")
    if column in (subject.config.proof.money_columns or ()):
        return measured.staging.staged.totals[column]
    with subject.store.connect() as connection:
        return exact_sums(connection, [(subject.staging.c[column], subject.types[column])],
                          subject.in_staging)[0]


def _as_trailer_holds(total: Decimal, f: Field) -> tuple[Decimal, int]:
    """The total as trailer field ``f`` can hold it: (value, digits if hashed)."""
    whole = f.digits - f.scale
    if abs(total) < Decimal(10) ** whole:
        return total, 0
    return total % (Decimal(10) ** whole), f.digits
