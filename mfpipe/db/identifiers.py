"""SQL identifiers from layouts: validated once, then always quoted by SQLAlchemy.

A name is lower case letters, digits and underscores, starts with a letter, fits the
shortest limit of every target dialect (PostgreSQL truncates beyond 63 bytes, silently), and
is not a reserved word in any of them, so one layout gives the same tables everywhere.
"""

from __future__ import annotations

import functools
import re

from mfpipe.db import dialects
from mfpipe.errors import ConfigError

MAX_LENGTH = 63
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@functools.cache
def reserved_words() -> frozenset[str]:
    """Reserved words of every dialect (PostgreSQL, Oracle, SQLite) and ANSI SQL, lower case."""
    from sqlalchemy.sql.compiler import RESERVED_WORDS as ANSI

    words = set(ANSI).union(*(dialects.get(name).sqlalchemy().identifier_preparer.reserved_words
                              for name in dialects.NAMES))
    return frozenset(w.lower() for w in words)


def check_identifier(name: str, what: str = "column") -> str:
    """Return ``name`` if it is a portable identifier; otherwise say what is wrong with it."""
    if not _NAME.match(name):
        raise ConfigError(f"{what} name {name!r} must start with a letter and hold only lower "
                          "case letters, digits and underscores")
    if len(name) > MAX_LENGTH:
        raise ConfigError(f"{what} name {name!r} has {len(name)} characters; the limit is "
                          f"{MAX_LENGTH} (PostgreSQL would truncate it)")
    if name in reserved_words():
        raise ConfigError(f"{what} name {name!r} is a reserved word in PostgreSQL, Oracle or "
                          "SQLite; rename the field")
    return name
