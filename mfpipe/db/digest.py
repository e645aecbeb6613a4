"""Reconciliation aggregates in SQL: reading the content hash and exact sums back.

The content hash uses the same canonical row and digest as :mod:`mfpipe.codec.digest`. Each
dialect (:mod:`mfpipe.db.dialects`) turns a stored value back into the canonical text the
processors hashed, joins the columns with ``|`` (NULL as the empty string), takes the first
8 bytes of its MD5 as a 64-bit integer and sums them; :func:`as_hash` reduces the sum mod
2**64. Money columns are summed exactly (:meth:`Dialect.exact_sum`) and read back with
:func:`as_decimal`; where a sum can overflow (SQLite), :func:`with_halves_on_overflow` takes
it again in halves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa
import sqlalchemy as sa

from mfpipe.codec.digest import MASK64
from mfpipe.db import dialects

T = TypeVar("T")


def as_hash(value: Any) -> int:
    """A digest sum as fetched (NUMERIC, NUMBER or text; NULL for no rows) mod 2**64."""
    return int(value or 0) & MASK64


def with_halves_on_overflow(query: Callable[[bool], T],
                            overflowed: Callable[[Exception], bool] | None = None) -> T:
    """``query(False)``, whose sums are plain; ``query(True)``, summing in halves, if one of
    them passed 2**63 (``overflowed`` says whether an error is that; by default
    SQLAlchemy's)."""
    try:
        return query(False)
    except Exception as exc:
        if not (overflowed or _overflowed)(exc):
            raise
        return query(True)


def _overflowed(exc: Exception) -> bool:
    return isinstance(exc, sa.exc.OperationalError) and "integer overflow" in str(exc.orig)


def as_decimal(value: object) -> Decimal:
    """An exact sum as fetched (Decimal, int or text; SQLite's ``unscaled:scale`` or halves
    ``high:scale:low``; NULL for no rows)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, str) and ":" in value:
        parts = [int(part) for part in value.split(":")]
        unscaled = parts[0] if len(parts) == 2 else (parts[0] << 32) + parts[2]
        return Decimal(f"{unscaled}E-{parts[1]}")
    return Decimal(str(value))


def exact_sums(connection: sa.Connection, columns: Sequence[tuple[sa.ColumnElement,
                                                                  pa.DataType]],
               where: sa.ColumnElement) -> list[Decimal]:
    """Exact sums of numeric (column, Arrow type) over the selected rows (0 where none)."""
    dialect = dialects.of(connection)

    def query(halves: bool) -> sa.Row:
        return connection.execute(sa.select(*(dialect.exact_sum(c, t, halves)
                                              for c, t in columns)).where(where)).one()

    return [as_decimal(v) for v in with_halves_on_overflow(query)]
