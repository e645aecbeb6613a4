"""Click options shared by the commands that read a mainframe file, and what they build."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from mfpipe.codec import Branch, DecodeOptions, Parent
from mfpipe.db.rules import Rule
from mfpipe.errors import ConfigError
from mfpipe.framing import CountedLength, CountField, FramingOptions, LengthField
from mfpipe.framing.lengths import Encoding
from mfpipe.layout import Category, RecordLayout, Usage

F = Callable[..., Any]

_SOURCE_OPTIONS = [
    click.option("--record", "record_name", help="01-level record to use (default: the first)."),
    click.option("--encoding", default="cp037", show_default=True,
                 help="Code page: cp037, cp500, cp1047, cp273, cp1140-cp1148, ascii, latin-1."),
    click.option("--recfm", type=click.Choice(["F", "FB", "V", "VB", "TEXT"],
                                              case_sensitive=False), default="FB",
                 show_default=True, help="Record format."),
    click.option("--lrecl", type=click.IntRange(min=1), help="Record length for F/FB "
                 "(default: the layout's size)."),
    click.option("--bdw", is_flag=True, help="V/VB records are in blocks with a BDW."),
    click.option("--rdw-little-endian", is_flag=True, help="RDW length is little-endian."),
    click.option("--rdw-excludes-header", is_flag=True,
                 help="RDW length does not count the 4 RDW bytes."),
    click.option("--skip-header-bytes", type=click.IntRange(min=0), default=0),
    click.option("--skip-trailer-bytes", type=click.IntRange(min=0), default=0),
    click.option("--record-start-offset", type=click.IntRange(min=0), default=0,
                 help="Bytes to skip at the start of every record (after any RDW)."),
    click.option("--record-end-offset", type=click.IntRange(min=0), default=0,
                 help="Bytes to skip at the end of every record."),
    click.option("--record-length-field", metavar="COLUMN",
                 help="With --recfm F: records without an RDW whose length is this binary or "
                 "unsigned DISPLAY field of the record."),
    click.option("--odo-framing", is_flag=True,
                 help="With --recfm F: records without an RDW, back to back, each as long as "
                 "its OCCURS DEPENDING ON counts make it."),
    click.option("--record-length-adjust", type=int, default=0,
                 help="Added to the record length field's value (e.g. -4, or the bytes the "
                 "field does not count)."),
    click.option("--trim", type=click.Choice(["right", "left", "both", "none"]), default="right",
                 show_default=True, help="Trimming of text fields."),
    click.option("--spaces-numeric", type=click.Choice(["null", "reject"]), default="null",
                 show_default=True, help="What an all-spaces numeric field becomes."),
    click.option("--low-values", type=click.Choice(["space", "reject", "keep"]), default="space",
                 show_default=True, help="What 0x00 bytes in text fields become."),
    click.option("--float-format", type=click.Choice(["ibm", "ieee"]), default="ibm",
                 show_default=True, help="COMP-1/COMP-2 format."),
    click.option("--strict-signs", is_flag=True, help="Reject A, B and E sign nibbles/zones."),
    click.option("--binary-range", type=click.Choice(["full", "pic"]), default="full",
                 show_default=True, help="'pic' rejects binary values beyond the PIC digits."),
    click.option("--invalid-numeric", type=click.Choice(["reject", "null"]), default="reject",
                 show_default=True, help="An invalid numeric field (LOW-VALUES, garbage): a "
                 "reject, or NULL with the record kept (counted per column in the report)."),
    click.option("--odo", type=click.Choice(["variable", "fixed"]), default="variable",
                 show_default=True, help="Do fields after an OCCURS DEPENDING ON table shift?"),
    click.option("--date", "dates", multiple=True, metavar="COLUMN=FORMAT",
                 help="Decode a column as a date, e.g. open_date=YYYYMMDD (repeatable)."),
    click.option("--branch", "branches", multiple=True, metavar="BRANCH=COLUMN:V1,V2",
                 help="Bind a REDEFINES branch to a discriminator value (repeatable)."),
    click.option("--parent", "parents", multiple=True, metavar="CHILD=PARENT[:KEY,...]",
                 help="A hierarchical file: each record of segment CHILD belongs to the "
                      "nearest PARENT record before it, whose record number and KEY columns "
                      "its rows carry (parent_record_no, parent_<key>; repeatable)."),
    click.option("--segment", metavar="BRANCH",
                 help="Only the records of this bound branch (a segment of a multi-segment "
                      "file), with its own columns, into its own tables."),
]


def source_options(command: F) -> F:
    """Add every source and decode option to a command."""
    for option in reversed(_SOURCE_OPTIONS):
        command = option(command)
    return command


_DEFAULTS = click.command()(source_options(lambda **_: None))


def source_defaults(**given: Any) -> dict[str, Any]:
    """Every source option at its default, updated with ``given`` (for commands with fewer)."""
    return {**_DEFAULTS.make_context("defaults", []).params, **given}


def _pairs(values: tuple[str, ...], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise ConfigError(f"{flag} {value!r} must look like NAME=VALUE")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def decode_options(opts: dict[str, Any]) -> DecodeOptions:
    """DecodeOptions from the parsed command-line options."""
    branches = []
    for branch, target in _pairs(opts["branches"], "--branch"):
        column, sep, values = target.partition(":")
        if not sep or not values:
            raise ConfigError(f"--branch {branch}={target!r} must look like BRANCH=COLUMN:V1,V2")
        branches.append(Branch(branch.upper(), column, tuple(values.split(","))))
    parents = []
    for child, target in _pairs(opts.get("parents", ()), "--parent"):
        parent, _, keys = target.partition(":")
        parents.append(Parent(child.upper(), parent.strip().upper(), tuple(
            k.strip().lower().replace("-", "_") for k in keys.split(",") if k.strip())))
    return DecodeOptions(
        encoding=opts["encoding"], trim=opts["trim"], spaces_numeric=opts["spaces_numeric"],
        low_values=opts["low_values"], float_format=opts["float_format"],
        strict_signs=opts["strict_signs"], binary_range=opts["binary_range"], odo=opts["odo"],
        invalid_numeric=opts["invalid_numeric"],
        dates=tuple(_pairs(opts["dates"], "--date")), branches=tuple(branches),
        segment=opts["segment"].upper() if opts.get("segment") else None,
        parents=tuple(parents))


def framing_options(opts: dict[str, Any], record: RecordLayout) -> FramingOptions:
    """FramingOptions from the parsed options; F/FB default to the layout's record size."""
    recfm = opts["recfm"].upper()
    margins = opts["record_start_offset"] + opts["record_end_offset"]
    length_field = _length_field(record, opts["record_length_field"],
                                 opts["record_length_adjust"])
    counted = _counted_length(record) if opts["odo_framing"] else None
    if counted is not None and opts["odo"] == "fixed":
        raise ConfigError("--odo-framing packs each record to its counts, so the fields after "
                          "a table move with them: it needs --odo variable, not fixed")
    fixed = recfm in ("F", "FB") and length_field is None and counted is None
    return FramingOptions(
        recfm=recfm, lrecl=opts["lrecl"] or (record.size + margins if fixed else None),
        rdw_little_endian=opts["rdw_little_endian"],
        rdw_excludes_header=opts["rdw_excludes_header"], bdw=opts["bdw"],
        skip_header_bytes=opts["skip_header_bytes"],
        skip_trailer_bytes=opts["skip_trailer_bytes"],
        record_start_offset=opts["record_start_offset"],
        record_end_offset=opts["record_end_offset"], length_field=length_field,
        counted_length=counted)


_COUNT_ENCODINGS: dict[Usage, Encoding] = {
    Usage.COMP: "binary", Usage.COMP_5: "binary", Usage.COMP_3: "packed",
    Usage.DISPLAY: "display"}


def _counted_length(record: RecordLayout) -> CountedLength:
    """The framing's view of ``--odo-framing``: the record's fixed bytes, and per variable
    table where its count is, how it is written and what an element takes."""
    tables = record.odo
    if not tables:
        raise ConfigError(f"--odo-framing: record {record.name} has no OCCURS DEPENDING ON")
    counts = []
    for table in tables:
        count = record.field(table.count_column)
        encoding = _COUNT_ENCODINGS.get(count.usage)
        if encoding is None or count.odo is not None or count.offset >= tables[0].offset or (
                encoding == "display" and count.signed):
            raise ConfigError(f"--odo-framing: the count {count.name} must be a binary, packed "
                              "or unsigned DISPLAY field before the first variable table")
        counts.append(CountField(count.offset, count.size, encoding, table.element_size,
                                 table.max_count))
    base = record.size - sum(t.element_size * t.max_count for t in tables)
    return CountedLength(base, tuple(counts))


def _length_field(record: RecordLayout, column: str | None, adjust: int) -> LengthField | None:
    """The framing's view of ``--record-length-field``: where the length is and how it is
    written (framing knows bytes, not COBOL)."""
    if not column:
        return None
    field = record.field(column)
    binary = field.usage in (Usage.COMP, Usage.COMP_5)
    plain_digits = (field.usage is Usage.DISPLAY and field.category is Category.NUMERIC
                    and not field.signed and field.scale == 0)
    after_table = any(field.offset >= t.offset for t in record.odo)
    if not (binary or plain_digits) or field.odo is not None or field.redefining or after_table:
        raise ConfigError(f"--record-length-field {column}: the length must be a binary or an "
                          "unsigned DISPLAY integer field at a fixed place in the record "
                          "(before any variable table)")
    return LengthField(field.offset, field.size, binary, adjust)


_RECONCILE_OPTIONS = [
    click.option("--final-table", help="Final table (default: the record's table name)."),
    click.option("--staging-table", help="Staging table (default: stg_ and the record's "
                 "table name)."),
    click.option("--key", help="Key columns of the final table, comma-separated: rows are "
                 "merged on it (default: no key, rows are appended)."),
    click.option("--duplicate-keys", type=click.Choice(["fail", "warn"]), default="fail",
                 show_default=True, help="A key twice in one file fails the run's proof, or "
                 "(warn) only warns, the later record replacing the earlier."),
    click.option("--money", multiple=True, metavar="COLUMN",
                 help="Control-total column (repeatable; default: every decimal column with "
                 "decimal places)."),
    click.option("--hash-columns", metavar="C1,C2",
                 help="Columns of the content hash (default: every string, integer, decimal "
                 "and date column)."),
    click.option("--rule", "rules", multiple=True, metavar="KIND:COLUMN[:ARGS][/warn]",
                 help="Business rule (repeatable): not_null:C, unique:C1,C2, range:C:LOW..HIGH, "
                 "allowed:C:V1,V2, date:C:YYYYMMDD; '/warn' makes it a warning."),
    click.option("--no-88-rules", "condition_rules", is_flag=True, flag_value=False, default=True,
                 help="Do not check level-88 VALUEs as allowed values."),
    click.option("--trailer-record", help="01 record of the trailer (the last "
                 "--skip-trailer-bytes of the file)."),
    click.option("--trailer-count", metavar="COLUMN",
                 help="Trailer column holding the number of detail records."),
    click.option("--trailer-total", "trailer_totals", multiple=True,
                 metavar="TRAILER_COLUMN=COLUMN",
                 help="Trailer column holding the total of a detail column (repeatable)."),
]


def reconcile_options(command: F) -> F:
    """Add the promotion and reconciliation options to a command."""
    for option in reversed(_RECONCILE_OPTIONS):
        command = option(command)
    return command


def reconcile_settings(opts: dict[str, Any]) -> dict[str, Any]:
    """JobSpec keywords from the promotion and reconciliation options."""
    def columns(text: str | None) -> tuple[str, ...] | None:
        return tuple(c.strip() for c in text.split(",") if c.strip()) if text else None

    return {"final_table": opts["final_table"], "staging_table": opts["staging_table"],
            "key": columns(opts["key"]) or (),
            "duplicate_keys": opts["duplicate_keys"],
            "money_columns": tuple(opts["money"]) or None,
            "hash_columns": columns(opts["hash_columns"]),
            "rules": tuple(Rule.parse(r) for r in opts["rules"]),
            "condition_rules": opts["condition_rules"],
            "trailer_record": opts["trailer_record"], "trailer_count": opts["trailer_count"],
            "trailer_totals": tuple(_pairs(opts["trailer_totals"], "--trailer-total"))}
