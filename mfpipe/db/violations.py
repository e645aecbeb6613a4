"""Business rules in SQL: count the rows that break a rule, with a few samples.

Values are always bound, never formatted into SQL. Date rules fetch the column's distinct
values and check them in Python: date arithmetic is not portable SQL, and a day's file
holds few distinct dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec.digest import EXACT
from mfpipe.db import dialects
from mfpipe.db.dialects.base import Dialect
from mfpipe.db.rules import DATE_FORMATS, Rule
from mfpipe.errors import ConfigError

SAMPLES = 5


@dataclass(frozen=True)
class Violations:
    """How many rows break a rule, and a few of the offending values."""

    count: int
    samples: tuple[str, ...]


def row_condition(rule: Rule, table: sa.Table, types: dict[str, pa.DataType], dialect: Dialect
                  ) -> sa.ColumnElement | None:
    """What a row breaking ``rule`` satisfies, for the rules that judge each row on its own
    (not_null, allowed, range), so that one scan can count several; None for unique and
    date rules, which look at many rows at once."""
    _check_columns(rule, table)
    if rule.kind in ("unique", "date"):
        return None
    column = table.c[rule.columns[0]]
    if rule.kind == "not_null":
        return column.is_(None)
    if rule.kind == "allowed":
        arrow_type = types[column.name]
        allowed = [_bound(v, arrow_type, dialect) for v in rule.values]
        inside = [_between(column, arrow_type, dialect, low, high) for low, high in rule.ranges]
        return column.is_not(None) & column.not_in(allowed) & sa.not_(sa.or_(False, *inside))
    return _outside(column, types[column.name], dialect, rule.values)


def violations(connection: sa.Connection, rule: Rule, table: sa.Table,
               where: sa.ColumnElement, types: dict[str, pa.DataType],
               counted: int | None = None) -> Violations:
    """Count the rows of ``table`` selected by ``where`` that break ``rule``; ``counted``:
    a row-wise rule's count, when a scan of the same rows took it already."""
    _check_columns(rule, table)
    if rule.kind == "unique":
        return _duplicates(connection, table.c, rule.columns, where)
    if rule.kind == "date":
        return _bad_dates(connection, table.c[rule.columns[0]], where, rule.fmt)
    bad = row_condition(rule, table, types, dialects.of(connection))
    assert bad is not None  # not_null, allowed and range judge each row
    count = counted if counted is not None else int(
        connection.execute(sa.select(sa.func.count()).where(where, bad)).scalar_one())
    if not count:  # the usual case: no second scan for samples
        return Violations(0, ())
    column = table.c[rule.columns[0]]
    rows = connection.execute(sa.select(column).where(where, bad).distinct().limit(SAMPLES))
    text = pa.types.is_string(types[column.name])
    return Violations(count, tuple(shown(r[0], text) for r in rows))


def row_rules(rules: Sequence[Rule], table: sa.Table, types: dict[str, pa.DataType],
              dialect: Dialect) -> list[tuple[Rule, sa.ColumnElement]]:
    """The rules that judge each row on its own, with the condition a breaking row meets."""
    found = []
    for rule in rules:
        condition = row_condition(rule, table, types, dialect)
        if condition is not None:
            found.append((rule, condition))
    return found


def shown(value: object, text: bool = True) -> str:
    """A sample value as an operator reads it: text quoted (its spaces show), numbers
    plain (``12.50``, never ``Decimal('12.50')``; SQLite's decimal text too, when ``text``
    is False), dates ISO."""
    if isinstance(value, str):
        return repr(value) if text else value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _check_columns(rule: Rule, table: sa.Table) -> None:
    for column in rule.columns:
        if column not in table.c:
            raise ConfigError(f"rule {rule.name} names column {column!r}, which {table.name} "
                              "does not have")


def _duplicates(connection: sa.Connection, c: sa.ColumnCollection, columns: tuple[str, ...],
                where: sa.ColumnElement) -> Violations:
    keys = [c[name] for name in columns]
    groups = (sa.select(*keys, sa.func.count().label("n")).where(where).group_by(*keys)
              .having(sa.func.count() > 1).subquery())
    extra = connection.execute(sa.select(sa.func.coalesce(sa.func.sum(groups.c.n - 1), 0))
                               ).scalar_one()
    samples = connection.execute(sa.select(groups).limit(SAMPLES)).all()
    return Violations(int(extra), tuple(
        ", ".join(f"{k}={shown(v)}" for k, v in zip(columns, row[:-1])) + f" x{row[-1]}"
        for row in samples))


def _bad_dates(connection: sa.Connection, column: sa.Column, where: sa.ColumnElement,
               fmt: str) -> Violations:
    query = sa.select(column, sa.func.count()).where(where, column.is_not(None)).group_by(column)
    bad = []
    for value, n in connection.execute(query):
        text = str(value).strip()
        if fmt != "YYYY-MM-DD" and isinstance(value, (int, Decimal)):
            text = text.zfill(len(fmt))  # a numeric date lost its leading zeros
        try:
            dt.datetime.strptime(text, DATE_FORMATS[fmt])
        except ValueError:
            bad.append((shown(value), int(n)))
    return Violations(sum(n for _, n in bad), tuple(v for v, _ in bad[:SAMPLES]))


def _bound(value: str, arrow_type: pa.DataType, dialect: Dialect) -> object:
    """A rule value as the column stores it (exact decimal text on SQLite)."""
    if pa.types.is_string(arrow_type) or pa.types.is_date(arrow_type):
        return _limit(value, arrow_type)
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise ConfigError(f"rule value {value!r} is not a number") from None
    if pa.types.is_decimal(arrow_type):
        number = number.quantize(Decimal(1).scaleb(-arrow_type.scale), context=EXACT)
        return dialect.stored_decimal(number)
    return int(number) if number == number.to_integral_value() else number


def _between(column: sa.Column, arrow_type: pa.DataType, dialect: Dialect, low: str, high: str
             ) -> sa.ColumnElement:
    """A level-88 ``VALUE low THRU high``."""
    ordered = dialect.ordered(column, arrow_type)
    return ordered.between(_limit(low, arrow_type), _limit(high, arrow_type))


def _outside(column: sa.Column, arrow_type: pa.DataType, dialect: Dialect,
             bounds: tuple[str, ...]) -> sa.ColumnElement:
    """A range rule's breach: below ``low`` or above ``high`` (either may be empty)."""
    low, high = bounds
    ordered = dialect.ordered(column, arrow_type)
    tests = []
    if low:
        tests.append(ordered < _limit(low, arrow_type))
    if high:
        tests.append(ordered > _limit(high, arrow_type))
    return sa.or_(*tests)


def _limit(value: str, arrow_type: pa.DataType) -> object:
    """A range's bound as its column compares (``check_rules`` made sure it parses)."""
    if pa.types.is_string(arrow_type):
        return value
    if pa.types.is_date(arrow_type):
        return dt.date.fromisoformat(value.strip())
    return Decimal(value.strip())
