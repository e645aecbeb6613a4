"""Moving records: reading and chunking input, decoding chunks, writing results.

For now this holds the single-process paths (``convert``, sample files); the multiprocess
reader -> processors -> writers engine builds on :func:`decode_chunk`.
"""

from mfpipe.pipeline.convert import ConvertResult, convert_file
from mfpipe.pipeline.process import decode_chunk
from mfpipe.pipeline.samples import SampleFile, generate_file
from mfpipe.pipeline.source import open_input

__all__ = ["ConvertResult", "SampleFile", "convert_file", "decode_chunk", "generate_file",
           "open_input"]
