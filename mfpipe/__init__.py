"""mfpipe: mainframe files (EBCDIC, COBOL copybooks, COMP-3) into relational databases.

The public API, re-exported here; everything else is an implementation detail.
"""

from mfpipe.codec import Branch, DecodedBatch, DecodeOptions, DecodePlan
from mfpipe.errors import (ConfigError, CopybookSyntaxError, DecodeError, FramingError,
                           InputError, LayoutError, MfpipeError, UnsupportedFieldError)
from mfpipe.framing import FramingOptions, RawChunk, iter_chunks
from mfpipe.layout import Field, Layout, RecordLayout, load_layout, parse_layout
from mfpipe.pipeline import ConvertResult, SampleFile, convert_file, generate_file

__all__ = [
    "Branch", "ConfigError", "ConvertResult", "CopybookSyntaxError", "DecodeError",
    "DecodeOptions", "DecodePlan", "DecodedBatch", "Field", "FramingError", "FramingOptions",
    "InputError", "Layout", "LayoutError", "MfpipeError", "RawChunk", "RecordLayout",
    "SampleFile", "UnsupportedFieldError", "convert_file", "generate_file", "iter_chunks",
    "load_layout", "parse_layout",
]
