"""Vectorized decoders and the encoder: chunks of records as byte matrices <-> Arrow columns.

Every decoder works on a whole column of a chunk at once (NumPy on a 2-D byte view), checks
every value and reports bad ones by reason code; :class:`DecodePlan` turns those into
reject rows. :mod:`mfpipe.codec.encode` is the inverse, used by ``mfpipe gen`` and the tests.
"""

from mfpipe.codec.charsets import Charset, charset
from mfpipe.codec.column import DecodedColumn
from mfpipe.codec.options import Branch, DecodeOptions, Parent
from mfpipe.codec.plan import DecodedBatch, DecodePlan
from mfpipe.codec.reasons import Reason
from mfpipe.codec.registry import select_decoder
from mfpipe.codec.rejects import REJECT_SCHEMA

__all__ = ["REJECT_SCHEMA", "Branch", "Charset", "DecodePlan", "DecodeOptions", "DecodedBatch",
           "DecodedColumn", "Parent", "Reason", "charset", "select_decoder"]
