"""One object per database (:class:`~mfpipe.db.dialects.base.Dialect`): what the core asks
of it, in one module each. Adding a database means one module here and a bulk loader in
:mod:`mfpipe.db.loaders`.

Modules load on first use, so naming a dialect imports only its own SQLAlchemy dialect.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mfpipe.errors import ConfigError

if TYPE_CHECKING:
    from mfpipe.db.dialects.base import Dialect

NAMES = ("sqlite", "postgresql", "oracle")


def get(name: str) -> Dialect:
    """The dialect called ``name`` (a SQLAlchemy backend name)."""
    if name not in NAMES:
        raise ConfigError(f"database {name!r} is not supported: use sqlite, postgresql or "
                          "oracle")
    dialect: Dialect = importlib.import_module(f"mfpipe.db.dialects.{name}").DIALECT
    return dialect


def every() -> tuple[Dialect, ...]:
    """Every dialect (for what must be asked of each: whose driver raised an error)."""
    return tuple(get(name) for name in NAMES)


def of(bind: Any) -> Dialect:
    """The dialect of a SQLAlchemy engine or connection."""
    return get(bind.dialect.name)
