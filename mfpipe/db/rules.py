"""Business rules on loaded rows: what a rule says, as plain data.

A rule travels in the run's options (and in job files) and reaches processor processes with
the run's config, so this module imports no SQLAlchemy; :mod:`mfpipe.db.violations`
evaluates rules in SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pyarrow as pa

from mfpipe.errors import ConfigError
from mfpipe.layout import Category, RecordLayout

KINDS: tuple[str, ...] = ("not_null", "range", "allowed", "date", "unique")
DATE_FORMATS = {"YYYYMMDD": "%Y%m%d", "YYYY-MM-DD": "%Y-%m-%d", "YYMMDD": "%y%m%d",
                 "YYYYDDD": "%Y%j", "MMDDYYYY": "%m%d%Y", "DDMMYYYY": "%d%m%Y"}


@dataclass(frozen=True)
class Rule:
    """One business rule: ``kind`` on ``columns`` with its ``values`` and severity."""

    kind: str
    columns: tuple[str, ...]
    values: tuple[str, ...] = ()  # range: (low, high), either may be ""; allowed: the values
    severity: str = "fail"
    fmt: str = ""  # date rules: YYYYMMDD, YYYY-MM-DD, ...
    ranges: tuple[tuple[str, str], ...] = ()  # allowed: (low, high) ranges too (88 THRU)

    @property
    def name(self) -> str:
        """A stable check name, e.g. ``rule_not_null_cust_id``."""
        return f"rule_{self.kind}_{'_'.join(self.columns)}"

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``KIND:COLUMNS[:ARGS][/warn]``: ``not_null:cust_id``, ``unique:a,b``,
        ``range:balance:-100..5000.00``, ``allowed:acct_type:S,C,L``, ``date:open:YYYYMMDD``."""
        body, _, severity = text.partition("/")
        kind, _, rest = body.partition(":")
        columns, _, args = rest.partition(":")
        if kind not in KINDS or not columns or severity not in ("", "fail", "warn"):
            raise ConfigError(f"rule {text!r} must look like KIND:COLUMN[:ARGS][/warn] with "
                              f"KIND one of {', '.join(KINDS)}")
        values: tuple[str, ...] = ()
        if kind == "range":
            low, dots, high = args.partition("..")
            if not dots or not (low or high):
                raise ConfigError(f"rule {text!r}: a range is LOW..HIGH (either may be empty)")
            values = (low, high)
        elif kind == "allowed":
            values = tuple(v for v in args.split(",") if v) if args else ()
        elif kind == "date" and args.upper() not in DATE_FORMATS:
            raise ConfigError(f"rule {text!r}: date format must be one of "
                              f"{', '.join(DATE_FORMATS)}")
        return cls(kind, tuple(c.strip() for c in columns.split(",")), values,
                   severity or "fail", args.upper() if kind == "date" else "")


def check_rules(rules: Sequence[Rule], schema: pa.Schema) -> None:
    """Refuse, before the first byte is read, a rule naming a column the record does not
    have or giving bounds or values its column's type cannot compare with (a run must not
    load a whole file and then fail on its own options)."""
    for rule in rules:
        for column in rule.columns:
            if column not in schema.names:
                raise ConfigError(f"rule {rule.name}: the record has no column {column!r}")
        arrow_type = schema.field(rule.columns[0]).type
        literals = [v for v in (*rule.values, *(b for r in rule.ranges for b in r)) if v]
        if rule.kind not in ("range", "allowed") or not literals:
            continue
        for literal in literals:
            if not _comparable(literal, arrow_type):
                raise ConfigError(f"rule {rule.name}: {literal!r} is not a value of column "
                                  f"{rule.columns[0]} ({arrow_type})")


def _comparable(literal: str, arrow_type: pa.DataType) -> bool:
    if pa.types.is_integer(arrow_type) or pa.types.is_decimal(arrow_type) or \
            pa.types.is_floating(arrow_type):
        try:
            return Decimal(literal).is_finite()
        except InvalidOperation:
            return False
    if pa.types.is_date(arrow_type):
        try:
            dt.date.fromisoformat(literal)
        except ValueError:
            return False
    return True


def run_rules(configured: Sequence[Rule], key: Sequence[str], duplicate_keys: str,
              record: RecordLayout | None, dates: Collection[str] = ()) -> list[Rule]:
    """A run's rules: the job's; with a key, the key's uniqueness within the run (a failure
    unless the job accepts duplicates, ``duplicate_keys`` warn, or names the rule itself);
    then, given the ``record`` (None: ``--no-88-rules``), an allowed-values rule (warn) for
    each loaded field with level-88 conditions (not the ``dates``: fields decoded as dates,
    whose 88 values are numbers), unless the job names the same rule. The launcher's chunk
    probes and the reconciliation both take their rules from here."""
    rules = list(configured)
    unique = Rule("unique", tuple(key), (), duplicate_keys)
    if key and unique.name not in {r.name for r in rules}:
        rules.insert(0, unique)
    if record is not None:
        named = {r.name for r in rules}
        rules += [r for r in condition_rules(record)
                  if r.name not in named and r.columns[0] not in dates]
    return rules


def date_columns(schema: pa.Schema) -> set[str]:
    """The columns decoded as dates."""
    return {f.name for f in schema if pa.types.is_date(f.type)}


def condition_rules(record: RecordLayout) -> list[Rule]:
    """An allowed-values rule (warn) for every loaded field with level-88 conditions, their
    single VALUEs and their THRU ranges: copybooks do not always list every value, so a
    stray one is worth a look, not a failure."""
    rules = []
    for f in record.fields:
        text = f.category is not Category.NUMERIC
        values = tuple(v for c in f.conditions for v in _literal_values(c.values, text))
        ranges = tuple(r for c in f.conditions for r in c.ranges)
        if values or ranges:
            rules.append(Rule("allowed", (f.column,), values, "warn", ranges=ranges))
    return rules


# figurative constants a level-88 VALUE may name, as the loaded column holds them (text is
# trimmed: SPACES is ''); the others (HIGH-VALUES, LOW-VALUES, QUOTES) have no loaded form
_FIGURATIVE = {"ZERO": "0", "ZEROS": "0", "ZEROES": "0", "SPACE": "", "SPACES": "",
               **dict.fromkeys(("HIGH-VALUE", "HIGH-VALUES", "LOW-VALUE", "LOW-VALUES", "QUOTE",
                                "QUOTES", "NULL", "NULLS"), None)}


def _literal_values(values: tuple[str, ...], text: bool) -> list[str]:
    """A condition's values as the column holds them: figurative constants resolved, and
    left out where the column has no form of them (SPACES in a number is NULL, which no
    rule flags; a word in a number is no number)."""
    found = []
    for value in values:
        resolved = _FIGURATIVE.get(value, value)
        if resolved is None or (not text and (resolved == "" or resolved.isalpha())):
            continue
        found.append(resolved)
    return found
