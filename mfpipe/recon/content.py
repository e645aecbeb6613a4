"""Content hash: the processors' digest of every decoded row against SQL over staging and final.

Counts and totals miss a value swapped between two rows; the order-independent hash does not.
A mismatch is narrowed down: to the workers and chunks whose staging rows differ from what
their processor decoded, then, by decoding those chunks from the file again, to the records
(and their keys) that are missing, extra or changed. Between staging and final, rows are
paired by the job's key.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from mfpipe.codec import DecodePlan
from mfpipe.codec.digest import canonical_rows, combine, row_digests
from mfpipe.codec.segments import ParentLink
from mfpipe.db.digest import as_hash
from mfpipe.errors import MfpipeError
from mfpipe.pipeline.process import decode_chunk, selected_chunks, with_carries
from mfpipe.pipeline.source import open_input
from mfpipe.recon.measures import Measurements
from mfpipe.recon.model import CheckResult
from mfpipe.recon.subject import RunSubject

SHOWN = 5  # chunks and records named in a check's details


def content_checks(subject: RunSubject, measured: Measurements) -> list[CheckResult]:
    """Check #5 of ARCHITECTURE.md: processors = staging, and staging = final."""
    columns = subject.config.proof.hash_columns or ()
    if not columns:
        return []
    staging = measured.staging
    per_chunk = {c: (m.rows, m.content_hash) for c, m in staging.by("chunk").items()}
    ledger = {int(c.chunk_id): (int(c.rows_loaded), int(c.content_hash))
              for c in subject.ledger}
    expected = (sum(n for n, _ in ledger.values()), combine(h for _, h in ledger.values()))
    actual = (staging.staged.rows, staging.staged.content_hash)
    checks = [_check("content_hash_staging", expected, actual,
                     () if expected == actual else _narrow_chunks(subject, ledger, per_chunk),
                     staging.proof)]
    promoted = (staging.promoted.rows, staging.promoted.content_hash)
    in_final = (measured.final.rows, measured.final.content_hash)
    checks.append(_check("content_hash_final", promoted, in_final,
                         () if promoted == in_final else _narrow_keys(subject),
                         measured.final_proof))
    return checks


def _row(subject: RunSubject, table: sa.Table) -> sa.ColumnElement:
    return subject.store.dialect.canonical_row(
        table, subject.types, subject.config.proof.hash_columns or (), subject.measured.nul_free)


def _check(name: str, expected: tuple[int, int], actual: tuple[int, int],
           details: tuple[str, ...], proof: str) -> CheckResult:
    """Hashes as 16 hex digits; the row counts go to the details (counts have checks of
    their own)."""
    rows = f"rows: expected {expected[0]}, found {actual[0]}"
    return CheckResult(name, "content_hash", f"{expected[1]:016x}", f"{actual[1]:016x}",
                       expected == actual, discrepancy=str(actual[0] - expected[0]),
                       details=(rows, *details) if expected != actual else (), proof=proof)


def _narrow_chunks(subject: RunSubject, ledger: dict[int, tuple[int, int]],
                   staging: dict[int, tuple[int, int]]) -> tuple[str, ...]:
    """Name the chunks (and their workers) that differ, then the records inside them."""
    workers = {int(c.chunk_id): int(c.worker_id) for c in subject.ledger}
    differing = sorted(c for c in set(ledger) | set(staging) if ledger.get(c) != staging.get(c))
    lines = [f"{len(differing)} chunk(s) differ; workers "
             f"{sorted({workers.get(c, -1) for c in differing})}"]
    for chunk_id in differing[:SHOWN]:
        want, have = ledger.get(chunk_id, (0, 0)), staging.get(chunk_id, (0, 0))
        lines.append(f"chunk {chunk_id} (worker {workers.get(chunk_id, '?')}): processor "
                     f"{want[0]} rows {want[1]:016x}, staging {have[0]} rows {have[1]:016x}")
    lines += _narrow_records(subject, differing[:SHOWN])
    return tuple(lines)


def _narrow_records(subject: RunSubject, chunk_ids: list[int]) -> list[str]:
    """Decode the chunks from the file again and pair their rows with staging's by record."""
    try:
        decoded = _decode_chunks(subject, set(chunk_ids))
    except (MfpipeError, OSError) as exc:  # file gone or changed: chunk-level detail remains
        return [f"records not narrowed: the source file could not be read again ({exc})"]
    staging = subject.staging
    query = (sa.select(staging.c.record_no,
                       subject.store.dialect.row_digest(_row(subject, staging)))
             .where(subject.in_staging, staging.c.chunk_id.in_(chunk_ids)))
    stored = Counter((int(r), as_hash(d)) for r, d in subject.rows(query))
    source = Counter(decoded)
    missing = sorted(r for r, _ in source - stored)
    extra = sorted(r for r, _ in stored - source)
    changed = sorted(set(missing) & set(extra))
    lines = []
    for label, records in (("changed", changed),
                           ("missing from staging", sorted(set(missing) - set(changed))),
                           ("extra or duplicated in staging", sorted(set(extra) - set(changed)))):
        if records:
            shown = ", ".join(map(str, records[:SHOWN]))
            lines.append(f"records {label}: {shown}" + (" ..." if len(records) > SHOWN else "")
                         + _keys(subject, records[:SHOWN]))
    return lines


def _decode_chunks(subject: RunSubject, chunk_ids: set[int]) -> list[tuple[int, int]]:
    """(record_no, digest) of every valid record of the given chunks, as a processor saw them."""
    config = subject.config
    source = config.source
    plan = DecodePlan.compile(subject.record, config.record_decode)
    condition = source.condition(subject.record)
    found: list[tuple[int, int]] = []
    link = ParentLink.of(plan)
    with open_input(source.input_path) as buffer:
        chunks = selected_chunks(buffer, source.framing, config.execution.chunk_records,
                                 source.window, source.input_path)
        for (chunk, _, _), carry in with_carries(chunks, plan, source.framing):
            if chunk.chunk_id in chunk_ids:
                batch = decode_chunk(plan, chunk, source.framing, condition, carry, link)
                digests = row_digests(canonical_rows(batch.batch, config.proof.hash_columns or ()))
                found += zip(batch.record_no.tolist(), (int(d) for d in digests))
            if chunk.chunk_id >= max(chunk_ids):
                break
    return found


def _keys(subject: RunSubject, records: list[int]) -> str:
    """The key values of some records, for an operator to look them up."""
    key = subject.config.target.key
    if not key:
        return ""
    staging = subject.staging
    rows = subject.rows(sa.select(staging.c.record_no, *(staging.c[k] for k in key)).where(
        subject.in_staging, staging.c.record_no.in_(records)).order_by(staging.c.record_no))
    shown = "; ".join(f"record {r[0]}: " + ", ".join(f"{k}={v}" for k, v in zip(key, r[1:]))
                      for r in rows)
    return f" ({shown})" if shown else ""


def _narrow_keys(subject: RunSubject) -> tuple[str, ...]:
    """Pair staging's promoted rows with the final rows by key; name the keys that differ."""
    key = subject.config.target.key
    if not key:
        return ("no key: final rows cannot be paired with staging rows (give the job a key)",)
    dialect = subject.store.dialect

    def digests(table: sa.Table, where: sa.ColumnElement) -> dict[tuple, int]:
        query = sa.select(*(table.c[k] for k in key),
                          dialect.row_digest(_row(subject, table))).where(where)
        return {tuple(r[:-1]): as_hash(r[-1]) for r in subject.rows(query)}

    staged = digests(subject.staging, subject.promoted)
    final = digests(subject.final, subject.in_final)
    lines = []
    for label, keys in (("changed in final", [k for k in staged if k in final
                                              and staged[k] != final[k]]),
                        ("missing from final", [k for k in staged if k not in final]),
                        ("not from this run's staging", [k for k in final if k not in staged])):
        if keys:
            shown = "; ".join(", ".join(f"{n}={v}" for n, v in zip(key, k)) for k in keys[:SHOWN])
            lines.append(f"{len(keys)} key(s) {label}: {shown}")
    return tuple(lines)
