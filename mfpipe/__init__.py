"""mfpipe: mainframe files (EBCDIC, COBOL copybooks, COMP-3) into relational databases.

The public API, re-exported here. Names resolve on first use (PEP 562), so a processor
process that needs only the codec does not pay for importing the database layer.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Branch": "mfpipe.codec", "DecodedBatch": "mfpipe.codec", "DecodeOptions": "mfpipe.codec",
    "DecodePlan": "mfpipe.codec",
    "ConfigError": "mfpipe.errors", "CopybookSyntaxError": "mfpipe.errors",
    "DecodeError": "mfpipe.errors", "FramingError": "mfpipe.errors",
    "InputError": "mfpipe.errors", "LayoutError": "mfpipe.errors", "MfpipeError": "mfpipe.errors",
    "UnsupportedFieldError": "mfpipe.errors",
    "FramingOptions": "mfpipe.framing", "RawChunk": "mfpipe.framing",
    "iter_chunks": "mfpipe.framing",
    "Field": "mfpipe.layout", "Layout": "mfpipe.layout", "RecordLayout": "mfpipe.layout",
    "load_layout": "mfpipe.layout", "parse_layout": "mfpipe.layout",
    "ConvertResult": "mfpipe.pipeline", "SampleFile": "mfpipe.pipeline",
    "convert_file": "mfpipe.pipeline", "generate_file": "mfpipe.pipeline",
    "JobSpec": "mfpipe.pipeline.spec", "load_file": "mfpipe.jobs",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mfpipe' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
