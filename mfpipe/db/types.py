"""Arrow types into SQL column types, per dialect, keeping every value exact.

Decimals are NUMERIC(p, s) on PostgreSQL and NUMBER(p, s) on Oracle. SQLite has no exact
decimal type (NUMERIC affinity turns 123.45 into a REAL), so there decimals are stored as
their canonical text and compared as text; never as floats.
"""

from __future__ import annotations

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.types import TypeEngine

from mfpipe.errors import ConfigError
from mfpipe.layout import LENGTH_KEY


def sql_type(field: pa.Field, dialect: str) -> TypeEngine:
    """The SQL type that holds ``field``'s values exactly on ``dialect``."""
    t = field.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        length = int((field.metadata or {}).get(LENGTH_KEY, 0)) or None
        if dialect == "oracle" and (length is None or length > 4000):
            return sa.Text()  # CLOB
        return sa.String(length) if length else sa.Text()  # Oracle: VARCHAR2(n CHAR)
    if pa.types.is_decimal(t):
        if dialect == "oracle":
            return oracle.NUMBER(t.precision, t.scale, asdecimal=True)
        return sa.Text() if dialect == "sqlite" else sa.Numeric(t.precision, t.scale)
    if pa.types.is_integer(t):
        if dialect == "oracle":
            return oracle.NUMBER({8: 3, 16: 5, 32: 10, 64: 19}[t.bit_width], 0, asdecimal=False)
        return {16: sa.SmallInteger(), 32: sa.Integer(), 64: sa.BigInteger()}.get(
            t.bit_width, sa.BigInteger())
    if pa.types.is_floating(t):
        return oracle.BINARY_DOUBLE() if dialect == "oracle" else sa.Double()
    if pa.types.is_date32(t):
        return sa.Date()
    if pa.types.is_binary(t):
        return sa.LargeBinary()
    raise ConfigError(f"column {field.name} has Arrow type {t}, which mfpipe cannot store")
