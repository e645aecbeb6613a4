"""The control tables: runs, the chunk ledger (restart log and audit), rejects, files, check
results and staging purges.

``mfp_chunk`` is written in the same transaction as the chunk's staging rows, so the ledger
says exactly which chunks are loaded: a restart redoes the chunks that are not in it.
"""

from __future__ import annotations

import sqlalchemy as sa

from mfpipe.errors import ConfigError

RUN_ID = sa.String(32)
metadata = sa.MetaData()

mfp_run = sa.Table(
    "mfp_run", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("job", sa.String(200), nullable=False),
    sa.Column("file", sa.String(1000), nullable=False),
    sa.Column("file_sha256", sa.String(64)),  # the content loaded: skips a renamed copy
    sa.Column("layout", sa.String(1000)),
    sa.Column("record_name", sa.String(100)),
    sa.Column("staging_table", sa.String(100)),
    sa.Column("final_table", sa.String(100)),
    sa.Column("status", sa.String(12), nullable=False),
    # the launcher attempt that owns the run (1, then one more per resume): every write of a
    # launcher names its attempt, so a superseded launcher that comes back changes nothing
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("superseded_by", RUN_ID),  # ABANDONED: the run that replaced it, if one did
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("heartbeat_at", sa.DateTime),
    sa.Column("records_read", sa.BigInteger),
    sa.Column("records_loaded", sa.BigInteger),
    sa.Column("records_rejected", sa.BigInteger),
    sa.Column("records_discarded", sa.BigInteger),  # read, but not meeting --when
    sa.Column("records_skipped", sa.BigInteger),  # before the first read (--skip-records)
    sa.Column("chunks", sa.Integer),
    sa.Column("exit_code", sa.Integer),
    sa.Column("elapsed_s", sa.Float),  # every attempt's wall time (mfp_attempt), summed
    sa.Column("cpu_s", sa.Float),  # every attempt's launcher and processes, summed
    sa.Column("metrics", sa.Text),  # JSON: the MetricsAggregator's per-worker counts
    sa.Column("message", sa.String(2000)),
    sa.Column("options", sa.Text),  # JSON: source, decode and pipeline options of the run
    sa.Column("trailer_hex", sa.Text),  # the file's trailer bytes, as read when the run began
    sa.Column("version", sa.String(20)),
    sa.Column("host", sa.String(100)),  # where the launcher runs, and its process id:
    sa.Column("pid", sa.Integer),  # a dead launcher on this host is seen at once
)

mfp_attempt = sa.Table(  # Spring Batch's job executions: every launcher's go at a run
    "mfp_attempt", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("command", sa.String(12), nullable=False),  # run, reprocess, restart
    sa.Column("host", sa.String(100)),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("status", sa.String(12), nullable=False),  # STARTED, then how it ended
    sa.Column("exit_code", sa.Integer),
    sa.Column("message", sa.String(2000)),
    # what this attempt added to the ledger (earlier attempts' chunks are not counted again)
    sa.Column("chunks", sa.Integer),
    sa.Column("records_read", sa.BigInteger),
    sa.Column("records_loaded", sa.BigInteger),
    sa.Column("records_rejected", sa.BigInteger),
    sa.Column("elapsed_s", sa.Float),  # wall time of the whole attempt
    sa.Column("load_s", sa.Float),  # phases: loading staging, publishing with the proof
    sa.Column("publish_s", sa.Float),
    sa.Column("cpu_s", sa.Float),  # the launcher and every process it started
    sa.Column("metrics", sa.Text),  # JSON: per worker counts and busy seconds
)


def _chunk_place() -> list[sa.Column]:
    """A chunk's place in its file: the byte range of its records, and the first one's
    number."""
    return [sa.Column("byte_offset", sa.BigInteger, nullable=False),
            sa.Column("byte_length", sa.BigInteger, nullable=False),
            sa.Column("first_record_no", sa.BigInteger, nullable=False)]


mfp_chunk = sa.Table(
    "mfp_chunk", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("chunk_id", sa.Integer, primary_key=True),
    sa.Column("worker_id", sa.Integer, nullable=False),
    *_chunk_place(),
    sa.Column("last_record_no", sa.BigInteger, nullable=False),
    sa.Column("rows_loaded", sa.BigInteger, nullable=False),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False),
    sa.Column("rows_discarded", sa.BigInteger, nullable=False),  # not meeting --when
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("committed_at", sa.DateTime, nullable=False),
    # the processors' content hash (sum of row digests mod 2**64, decimal text) and exact
    # totals of the money columns (JSON of decimal text): per chunk, so they survive restarts
    sa.Column("content_hash", sa.String(20), nullable=False),
    sa.Column("totals", sa.Text, nullable=False),
)

# The run's plan: every chunk's entry in the file's sparse index (its whole records' span,
# first record and count) and the records of it the run skips (before --skip-records' end)
# and reads, stored by the reader before the chunk's task is queued: every attempt, on
# either executor, must frame the file into exactly these chunks.
mfp_plan = sa.Table(
    "mfp_plan", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("chunk_id", sa.Integer, primary_key=True),
    *_chunk_place(),  # of the whole chunk, before the run's window cuts it
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("records_skipped", sa.Integer, nullable=False),
    sa.Column("records_read", sa.Integer, nullable=False),
)

# The database's side of each chunk's proof, measured by the writer inside the chunk's
# transaction after its staging rows were written (mfpipe.db.probe), and committed with it:
# the chunk commits only if this equals what its processor decoded (mfp_chunk's rows_loaded,
# content_hash and totals). ``flagged``: JSON of the rows breaking each row-wise rule.
mfp_chunk_proof = sa.Table(
    "mfp_chunk_proof", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("chunk_id", sa.Integer, primary_key=True),
    sa.Column("rows_found", sa.BigInteger, nullable=False),
    sa.Column("content_hash", sa.String(20), nullable=False),
    sa.Column("totals", sa.Text, nullable=False),
    sa.Column("flagged", sa.Text, nullable=False),
    sa.Column("measured_at", sa.DateTime, nullable=False),
)

mfp_reject = sa.Table(
    "mfp_reject", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("record_no", sa.BigInteger, primary_key=True),
    sa.Column("chunk_id", sa.Integer, nullable=False),
    sa.Column("byte_offset", sa.BigInteger, nullable=False),
    sa.Column("field", sa.String(100)),
    sa.Column("column_name", sa.String(100)),
    sa.Column("field_offset", sa.Integer),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("raw_hex", sa.Text, nullable=False),
)

mfp_file = sa.Table(
    "mfp_file", metadata,
    sa.Column("path", sa.String(1000), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime", sa.DateTime, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # DISCOVERED PROCESSING SUCCESS ...
    sa.Column("owner_run_id", RUN_ID),  # the run holding the file while PROCESSING
    sa.Column("last_run_id", RUN_ID),  # the run whose rows the final table holds
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

CHECK_TEXT = 200  # characters kept of a check's expected, actual and discrepancy texts
mfp_recon_result = sa.Table(
    "mfp_recon_result", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("check_name", sa.String(100), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),  # the order the checks ran in
    sa.Column("check_type", sa.String(40), nullable=False),
    sa.Column("expected", sa.String(CHECK_TEXT)),
    sa.Column("actual", sa.String(CHECK_TEXT)),
    sa.Column("discrepancy", sa.String(CHECK_TEXT)),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("details", sa.Text),  # JSON list of lines narrowing a failure down
    sa.Column("checked_at", sa.DateTime, nullable=False),
)


mfp_nulled = sa.Table(  # --invalid-numeric null: the fields loaded as NULL, per chunk and column
    "mfp_nulled", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("chunk_id", sa.Integer, primary_key=True),
    sa.Column("column_name", sa.String(100), primary_key=True),
    sa.Column("fields", sa.BigInteger, nullable=False),
)


mfp_purge = sa.Table(
    "mfp_purge", metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("staging_table", sa.String(100), nullable=False),
    sa.Column("rows_deleted", sa.BigInteger, nullable=False),
    sa.Column("purged_at", sa.DateTime, nullable=False),
)


mfp_lock = sa.Table(  # Oracle: one row per locked name, for claims (see registry.serialized)
    "mfp_lock", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
)


def create_table(engine: sa.Engine, table: sa.Table) -> bool:
    """Create ``table`` unless it exists; True if this call created it.

    Two launchers starting at once both see no table and both create it: the loser's error
    is not an error when the table is there afterwards.
    """
    if sa.inspect(engine).has_table(table.name):
        return False
    try:
        table.create(engine)
    except sa.exc.DatabaseError:
        if not sa.inspect(engine).has_table(table.name):
            raise
        return False
    return True


def create_indexes(engine: sa.Engine, table: sa.Table) -> None:
    """Create the indexes of ``table`` that a table left by an earlier mfpipe lacks; as with
    :func:`create_table`, losing a race to another launcher is no error."""
    def existing() -> set[str | None]:
        return {i["name"] for i in sa.inspect(engine).get_indexes(table.name)}

    have = existing() if table.indexes else set()
    for index in table.indexes:
        if index.name in have:
            continue
        try:
            index.create(engine)
        except sa.exc.DatabaseError:
            if index.name not in existing():
                raise


def create_control_tables(engine: sa.Engine, tables: sa.MetaData = metadata) -> None:
    """Create the control tables that do not exist yet, and check the ones that do
    (``tables``: the runs' by default, or the service's batches').

    Control tables are never altered by mfpipe: tables left by an older version that lack a
    column are refused with a message, not written half-way.
    """
    existing = set(sa.inspect(engine).get_table_names())
    existed = [t for t in tables.sorted_tables if t.name in existing]
    missing = [t for t in tables.sorted_tables if t not in existed]
    for table in missing:
        create_table(engine, table)
    # one reflection query for every table (PostgreSQL's per-table ones take ~10 ms each)
    reflected = sa.inspect(engine).get_multi_columns(filter_names=[t.name for t in existed])
    columns = {name: cols for (_schema, name), cols in reflected.items()}
    for table in existed:
        found = {c["name"].lower() for c in columns.get(table.name, [])}
        lacking = [c.name for c in table.columns if c.name not in found]
        if lacking:
            raise ConfigError(f"control table {table.name} lacks {', '.join(lacking)}: it was "
                              "created by an older mfpipe; rename it (keeping its history) and "
                              "run again to create the current one")
