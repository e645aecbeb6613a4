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
from sqlalchemy.dialects import postgresql, sqlite

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


def promote(connection: sa.Connection, staging: sa.Table, final: sa.Table, run_id: str,
            key: Sequence[str] = (), replaces: Sequence[str] = ()) -> int:
    """Write the run's rows into ``final`` with ``last_run_id``; return how many."""
    missing = [k for k in key if k not in final.c]
    if missing:
        raise ConfigError(f"key column {missing[0]!r} is not a column of {final.name}")
    if replaces:
        connection.execute(sa.delete(final).where(final.c.last_run_id.in_(list(replaces))))
        connection.execute(sa.delete(staging).where(staging.c.run_id.in_(list(replaces))))
    columns = [c.name for c in final.columns if c.name != "last_run_id"]
    source = (sa.select(*(staging.c[n] for n in columns), sa.literal(run_id).label("last_run_id"))
              .where(promoted_rows(staging, run_id, key)))
    dialect = connection.dialect.name
    if not key:
        statement: sa.Executable = sa.insert(final).from_select([*columns, "last_run_id"],
                                                                source)
    elif dialect == "oracle":
        statement = merge_statement(staging, final, run_id, key, connection.dialect)
    else:
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(final)
        insert = insert.from_select([*columns, "last_run_id"], source)
        updates = {n: insert.excluded[n] for n in [*columns, "last_run_id"] if n not in key}
        statement = insert.on_conflict_do_update(index_elements=list(key), set_=updates)
    # the rows written (inserted plus updated) as the driver counts them; a count(*) of the
    # run's final rows would read the whole final table, which an append-mode job grows
    # every night (SQLAlchemy keeps an INSERT's rowcount only when asked to)
    written = connection.execute(statement.execution_options(preserve_rowcount=True)).rowcount
    if written < 0:
        raise TerminalLoadError(final.name, -1, "the database driver did not say how many "
                                                "rows promotion wrote")
    return written


def merge_statement(staging: sa.Table, final: sa.Table, run_id: str, key: Sequence[str],
                    dialect: sa.engine.Dialect) -> sa.TextClause:
    """Oracle's ``MERGE`` for a keyed promotion; names quoted by the dialect, run id bound."""
    q = dialect.identifier_preparer.quote
    columns = [c.name for c in final.columns if c.name != "last_run_id"]
    stg, fin = q(staging.name), q(final.name)
    keys = ", ".join(q(k) for k in key)
    using = (f"SELECT {', '.join(q(c) for c in columns)} FROM {stg} WHERE run_id = :run_id "
             f"AND record_no IN (SELECT MAX(record_no) FROM {stg} WHERE run_id = :run_id "
             f"GROUP BY {keys})")
    on = " AND ".join(f"f.{q(k)} = s.{q(k)}" for k in key)
    sets = ", ".join([*(f"f.{q(c)} = s.{q(c)}" for c in columns if c not in key),
                      "f.last_run_id = :run_id"])
    inserted = ", ".join(f"s.{q(c)}" for c in columns)
    return sa.text(
        f"MERGE INTO {fin} f USING ({using}) s ON ({on}) WHEN MATCHED THEN UPDATE SET {sets} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(q(c) for c in columns)}, last_run_id) "
        f"VALUES ({inserted}, :run_id)").bindparams(run_id=run_id)
