"""Moving records: reading and chunking input, decoding chunks, writing results.

The single-process paths (``convert``, sample files) and the multiprocess engine
(:mod:`mfpipe.pipeline.engine`: reader thread, processor processes, writer process). Names
resolve on first use so that child processes import only what they run.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConvertResult": "mfpipe.pipeline.convert", "convert_file": "mfpipe.pipeline.convert",
    "decode_chunk": "mfpipe.pipeline.process", "SampleFile": "mfpipe.pipeline.samples",
    "generate_file": "mfpipe.pipeline.samples", "open_input": "mfpipe.pipeline.source",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mfpipe.pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
