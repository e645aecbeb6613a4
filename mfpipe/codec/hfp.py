"""Floating point fields (COMP-1, COMP-2): IBM hexadecimal by default, IEEE 754 by option.

IBM HFP: bit 0 sign, bits 1-7 a base-16 exponent in excess 64, then a 24-bit (COMP-1) or
56-bit (COMP-2) fraction; value = (-1)^s * 0.F * 16^(E-64). ``ldexp`` of the integer fraction
is exact for COMP-1 and rounds once (to float64's 53 bits) for COMP-2. HFP has no NaN.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mfpipe.codec.binary import read_integers
from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.layout import Field


def ibm_to_float(words: np.ndarray, width: int) -> np.ndarray:
    """IBM hexadecimal floats (uint32 or uint64 words) as float64."""
    bits = 8 * width
    sign = (words >> np.uint64(bits - 1)).astype(bool)
    exponent = ((words >> np.uint64(bits - 8)) & np.uint64(0x7F)).astype(np.int64)
    fraction = (words & np.uint64((1 << (bits - 8)) - 1)).astype(np.float64)
    value = np.ldexp(fraction, 4 * (exponent - 64) - (bits - 8))
    return np.where(sign, -value, value)


def decode_float(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode a COMP-1/COMP-2 column; IEEE NaN and infinity are rejected."""
    width = matrix.shape[1]
    if options.float_format == "ieee":
        values = np.ascontiguousarray(matrix).view(f">f{width}").ravel().astype(np.float64)
        reasons = merge_reasons((~np.isfinite(values), Reason.NOT_A_NUMBER))
        values = np.where(np.isfinite(values), values, 0.0)
    else:
        words = read_integers(matrix, signed=False, dtype=np.dtype(np.uint64))
        values, reasons = ibm_to_float(words, width), None
    return DecodedColumn(pa.array(values, type=pa.float64()), reasons)
