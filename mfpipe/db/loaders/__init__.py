"""Bulk loaders, one module per dialect, chosen by the URL's dialect name."""

from __future__ import annotations

import importlib
from typing import Any

from mfpipe.db.loaders.base import BulkLoader, Capabilities, LoadResult
from mfpipe.db.urls import dialect_name

__all__ = ["BulkLoader", "Capabilities", "LoadResult", "open_loader"]

# dialect -> (module, class); modules import their driver, so only the one in use is loaded
LOADERS = {
    "sqlite": ("mfpipe.db.loaders.sqlite", "SqliteLoader"),
    "postgresql": ("mfpipe.db.loaders.postgres", "PostgresLoader"),
    "oracle": ("mfpipe.db.loaders.oracle", "OracleLoader"),
}


def open_loader(url: str, **options: Any) -> BulkLoader:
    """A connected loader for the database at ``url``; ``options`` go to its constructor."""
    module, name = LOADERS[dialect_name(url)]
    loader_class = getattr(importlib.import_module(module), name)
    return loader_class(url, **options)
