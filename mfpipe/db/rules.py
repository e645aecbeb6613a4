"""Business rules on loaded rows: what a rule says, as plain data.

A rule travels in the run's options (and in job files) and reaches processor processes with
the run's config, so this module imports no SQLAlchemy; :mod:`mfpipe.db.violations`
evaluates rules in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfpipe.errors import ConfigError

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
