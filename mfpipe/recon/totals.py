"""Control totals: the exact sum of every money column, from the file to the final table.

The processors summed each chunk's decoded values (kept in the ledger with the chunk); the
database sums staging and final (:mod:`mfpipe.recon.measures`). All three are compared as
exact decimals, never floats.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from mfpipe.recon.content import SHOWN
from mfpipe.recon.measures import Measurements, StagingSide
from mfpipe.recon.model import CheckResult
from mfpipe.recon.subject import RunSubject


def total_checks(subject: RunSubject, measured: Measurements) -> list[CheckResult]:
    """Check #4 of ARCHITECTURE.md: one staging and one final check per money column."""
    columns = subject.config.proof.money_columns or ()
    from_ledger = {c: Decimal(0) for c in columns}
    for chunk in subject.ledger:
        for column, total in json.loads(chunk.totals).items():
            if column in from_ledger:
                from_ledger[column] += Decimal(total)
    checks, staging = [], measured.staging
    for column in columns:
        staged = _compare(f"total_{column}_staging", from_ledger[column],
                          staging.staged.totals[column], staging.proof)
        if not staged.passed:
            staged = replace(staged, details=_differing_chunks(subject, staging, column))
        checks += [staged, _compare(f"total_{column}_final", staging.promoted.totals[column],
                                    measured.final.totals[column], measured.final_proof)]
    return checks


def _differing_chunks(subject: RunSubject, staging: StagingSide, column: str
                      ) -> tuple[str, ...]:
    """The chunks (and workers) whose staging total is not what their processor summed."""
    found = {c: m.totals[column] for c, m in staging.by("chunk").items()}
    lines = []
    for chunk in subject.ledger:
        chunk_id = chunk.chunk_id
        expected = Decimal(json.loads(chunk.totals).get(column, "0"))
        actual = found.pop(chunk_id, Decimal(0))
        if expected != actual:
            lines.append(f"chunk {chunk_id} (worker {chunk.worker_id}, records "
                         f"{chunk.first_record_no}-{chunk.last_record_no}): processor "
                         f"{expected:f}, staging {actual:f}")
    lines += [f"chunk {c}: {v:f} in staging, but not in the ledger" for c, v in found.items()]
    return tuple(lines[:SHOWN]) + ((f"... {len(lines) - SHOWN} more",) if len(lines) > SHOWN
                                   else ())


def _compare(name: str, expected: Decimal, actual: Decimal, proof: str) -> CheckResult:
    """Totals as plain decimals (``0.0000000``, never ``0E-7``) for the report."""
    return CheckResult(name, "control_total", f"{expected:f}", f"{actual:f}",
                       expected == actual, discrepancy=f"{actual - expected:f}", proof=proof)
