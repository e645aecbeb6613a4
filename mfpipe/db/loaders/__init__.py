"""Bulk loaders, one module per dialect, chosen by the URL's dialect name."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from mfpipe.db.loaders.base import BulkLoader, Capabilities, LoadResult
from mfpipe.db.urls import dialect_name

__all__ = ["LOADERS", "BulkLoader", "Capabilities", "LoadResult", "class_of", "loader_class",
           "loader_kind", "open_loader"]

# kind -> (module, class); modules import their driver, so only the one in use is loaded
LOADERS = {
    "sqlite": ("mfpipe.db.loaders.sqlite", "SqliteLoader"),
    "postgresql": ("mfpipe.db.loaders.postgres", "PostgresCopyLoader"),
    "postgresql-adbc": ("mfpipe.db.loaders.postgres", "AdbcLoader"),
    "oracle": ("mfpipe.db.loaders.oracle", "OracleLoader"),
}


def loader_kind(url: str, kind: str | None = None) -> str:
    """The loader for ``url``: ``kind`` picks a non-default one (``postgresql-adbc``).

    PostgreSQL uses ADBC when psycopg is not installed."""
    kind = kind or dialect_name(url)
    if kind == "postgresql" and importlib.util.find_spec("psycopg") is None:
        kind = "postgresql-adbc"
    return kind


def loader_class(url: str, kind: str | None = None) -> type[BulkLoader]:
    """The class of :func:`loader_kind`'s loader (its module and driver imported)."""
    return class_of(loader_kind(url, kind))


def class_of(kind: str) -> type[BulkLoader]:
    """The loader class of a kind that :func:`loader_kind` resolved."""
    module, name = LOADERS[kind]
    return getattr(importlib.import_module(module), name)


def open_loader(url: str, kind: str | None = None, **options: Any) -> BulkLoader:
    """A loader for ``url``, connected."""
    return loader_class(url, kind)(url, **options)
