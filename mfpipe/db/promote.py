"""Promotion: a run's staging rows into the final table, in the caller's transaction.

Without a key the rows are appended. With a key they are merged: PostgreSQL and SQLite use
``INSERT ... ON CONFLICT DO UPDATE``, Oracle ``MERGE``. When a file holds one key twice the
later record wins, as a mainframe update file means it (the duplicate-key check fails the
run unless the job accepts duplicates). Rows of the runs in ``replaces`` (an earlier load
of the same content, reprocessed) are removed from final and staging first, in the same
transaction. The transaction publishes the run only if every check passes (see
:mod:`mfpipe.recon.publish`), so a run's rows are in the final table exactly when the run
is COMPLETED, and promotion never finds rows of its own run there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from mfpipe.db import dialects
from mfpipe.errors import ConfigError, TerminalLoadError


def promoted_rows(staging: sa.Table, run_id: str, key: Sequence[str]) -> sa.ColumnElement:
    """The condition selecting the staging rows that promotion takes for ``run_id``."""
    condition = staging.c.run_id == run_id
    if not key:
        return condition
    keys = [staging.c[k] for k in key]
    latest = (sa.select(sa.func.max(staging.c.record_no)).where(staging.c.run_id == run_id)
              .group_by(*keys))
    return sa.and_(condition, staging.c.record_no.in_(latest))


def promotion_source(staging: sa.Table, final: sa.Table, run_id: str, key: Sequence[str]
                     ) -> sa.Select:
    """The rows promotion writes: final's columns from the run's promoted staging rows, and
    the run as ``last_run_id``."""
    columns = [c.name for c in final.columns if c.name != "last_run_id"]
    return (sa.select(*(staging.c[n] for n in columns), sa.literal(run_id).label("last_run_id"))
            .where(promoted_rows(staging, run_id, key)))


def promote(connection: sa.Connection, staging: sa.Table, final: sa.Table, run_id: str,
            key: Sequence[str] = (), replaces: Sequence[str] = ()) -> int:
    """Write the run's rows into ``final`` with ``last_run_id``; return how many."""
    missing = [k for k in key if k not in final.c]
    if missing:
        raise ConfigError(f"key column {missing[0]!r} is not a column of {final.name}")
    if replaces:
        connection.execute(sa.delete(final).where(final.c.last_run_id.in_(list(replaces))))
        connection.execute(sa.delete(staging).where(staging.c.run_id.in_(list(replaces))))
    source = promotion_source(staging, final, run_id, key)
    statement = (dialects.of(connection).merge(final, source, key) if key
                 else sa.insert(final).from_select(list(source.selected_columns.keys()), source))
    # the rows written (inserted plus updated) as the driver counts them; a count(*) of the
    # run's final rows would read the whole final table, which an append-mode job grows
    # every night (SQLAlchemy keeps an INSERT's rowcount only when asked to)
    written = connection.execute(statement.execution_options(preserve_rowcount=True)).rowcount
    if written < 0:
        raise TerminalLoadError(final.name, -1, "the database driver did not say how many "
                                                "rows promotion wrote")
    return written

