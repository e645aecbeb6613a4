"""Databases: tables from Arrow schemas, one dialect object per database, identifiers, bulk
loaders.

Nothing here knows COBOL: it receives Arrow schemas and batches. Drivers are imported inside
the dialect modules, and names here resolve on first use, so importing :mod:`mfpipe.db`
needs no driver and processor processes do not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "check_identifier": "mfpipe.db.identifiers", "ddl": "mfpipe.db.schema",
    "final_table": "mfpipe.db.schema", "staging_table": "mfpipe.db.schema",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mfpipe.db' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
