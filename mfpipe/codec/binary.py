"""Binary integers (COMP, COMP-4, BINARY, COMP-5): big-endian two's complement, by dtype view.

The column's bytes are copied once into a contiguous block and reinterpreted as ``>i2``,
``>i4`` or ``>i8`` (``>u…`` without S). TRUNC(BIN) and COMP-5 files hold the full storage
range, which is the default; ``binary_range="pic"`` rejects values beyond the PIC digits.
"""

from __future__ import annotations

import numpy as np

from mfpipe.codec.column import DecodedColumn, merge_reasons
from mfpipe.codec.numbers import Unscaled, from_uint64, to_arrow
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.reasons import Reason
from mfpipe.layout import Field, Usage


def read_integers(matrix: np.ndarray, signed: bool, dtype: np.dtype | None = None
                  ) -> np.ndarray:
    """The big-endian integers of a [records, 2|4|8] byte column, in native byte order.

    The big-endian view is taken on the column in place (rows may be strided) and converted
    in one pass, to ``dtype`` when given.
    """
    width = matrix.shape[1]
    stored = np.dtype(f">{'i' if signed else 'u'}{width}")
    if matrix.strides[1] != 1:  # a dtype view needs contiguous bytes within the row
        matrix = np.ascontiguousarray(matrix)
    return matrix.view(stored)[:, 0].astype(dtype or stored.newbyteorder("="))


def decode_binary(matrix: np.ndarray, field: Field, options: DecodeOptions) -> DecodedColumn:
    """Decode a binary column into exact integers (or decimal128 when the PIC has decimals)."""
    if matrix.shape[1] == 8 and not field.signed:  # may exceed int64
        values = read_integers(matrix, False)
        unscaled = from_uint64(values)
    else:  # 2- and 4-byte values, unsigned ones included, and signed 8-byte ones fit int64
        values = read_integers(matrix, field.signed, np.dtype(np.int64))
        unscaled = Unscaled(values)
    reasons = None
    if options.binary_range == "pic" and field.usage is Usage.COMP and field.digits < 19:
        # compare both bounds: abs() of the most negative int64 stays negative
        limit = np.array(10**field.digits).astype(values.dtype)
        beyond = values >= limit
        if field.signed:
            beyond |= values <= -limit
        reasons = merge_reasons((beyond, Reason.TOO_MANY_DIGITS))
    return DecodedColumn(to_arrow(unscaled, field.arrow_type, field.scale, None), reasons)
