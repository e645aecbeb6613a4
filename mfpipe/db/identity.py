"""What one load is of: its identity, and the runs that loaded it.

A load identity is (job, final table, 01 record, file content by SHA-256): the same bytes
loaded by the same job into the same table from the same record. At most one run per
identity ever publishes rows to the final table: that is the exactly-once promise across
nights, relaunches, restarts and re-sent files, and every claim and every publication
checks it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from mfpipe.db.control import mfp_run
from mfpipe.db.explorer import RunRecord


@dataclass(frozen=True)
class LoadIdentity:
    """(job, final table, record, content): see the module docstring."""

    job: str
    final_table: str
    record_name: str
    sha256: str

    @classmethod
    def of_run(cls, run: RunRecord) -> LoadIdentity:
        """The identity a run loads."""
        return cls(run.job, run.final_table or "", run.record_name or "", run.file_sha256 or "")

    @property
    def lock_name(self) -> str:
        """A short name for locks taken on the identity (64 hex digits)."""
        text = "\x1f".join((self.job, self.final_table, self.record_name, self.sha256))
        return hashlib.sha256(text.encode()).hexdigest()

    def runs(self) -> sa.ColumnElement[bool]:
        """The condition selecting the ``mfp_run`` rows of this identity."""
        r = mfp_run.c
        return sa.and_(r.job == self.job, r.final_table == self.final_table,
                       r.record_name == self.record_name, r.file_sha256 == self.sha256)
