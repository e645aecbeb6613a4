"""Bulk loaders, one module per dialect, chosen by the URL's dialect name."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from mfpipe.db.loaders.base import BulkLoader, Capabilities, LoadResult
from mfpipe.db.urls import dialect_name

__all__ = ["BulkLoader", "Capabilities", "LoadResult", "open_loader"]

# dialect -> (module, class); modules import their driver, so only the one in use is loaded
LOADERS = {
    "sqlite": ("mfpipe.db.loaders.sqlite", "SqliteLoader"),
    "postgresql": ("mfpipe.db.loaders.postgres", "PostgresLoader"),
    "postgresql-copy": ("mfpipe.db.loaders.postgres", "PsycopgLoader"),
    "oracle": ("mfpipe.db.loaders.oracle", "OracleLoader"),
}


def open_loader(url: str, kind: str | None = None, **options: Any) -> BulkLoader:
    """A connected loader for ``url``: ``kind`` picks a non-default one (``postgresql-copy``).

    PostgreSQL falls back to psycopg's COPY when the ADBC driver is not installed.
    """
    kind = kind or dialect_name(url)
    if kind == "postgresql" and importlib.util.find_spec("adbc_driver_postgresql") is None:
        kind = "postgresql-copy"
    module, name = LOADERS[kind]
    loader_class = getattr(importlib.import_module(module), name)
    return loader_class(url, **options)
