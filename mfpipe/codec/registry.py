"""The one place where a field's type meets its decoder: a dict keyed by (category, usage)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpipe.codec.binary import decode_binary
from mfpipe.codec.column import DecodedColumn
from mfpipe.codec.edited import decode_edited
from mfpipe.codec.hfp import decode_float
from mfpipe.codec.options import DecodeOptions
from mfpipe.codec.packed import decode_packed, decode_packed_unsigned
from mfpipe.codec.text import decode_national, decode_text
from mfpipe.codec.zoned import decode_zoned
from mfpipe.errors import UnsupportedFieldError
from mfpipe.layout import Category, Field, Usage

Decoder = Callable[[np.ndarray, Field, DecodeOptions], DecodedColumn]

DECODERS: dict[tuple[Category, Usage], Decoder] = {
    (Category.ALPHANUMERIC, Usage.DISPLAY): decode_text,
    (Category.NATIONAL, Usage.NATIONAL): decode_national,
    (Category.NUMERIC, Usage.DISPLAY): decode_zoned,
    (Category.NUMERIC_EDITED, Usage.DISPLAY): decode_edited,
    (Category.NUMERIC, Usage.COMP_3): decode_packed,
    (Category.NUMERIC, Usage.COMP_3U): decode_packed_unsigned,
    (Category.NUMERIC, Usage.COMP): decode_binary,
    (Category.NUMERIC, Usage.COMP_5): decode_binary,
    (Category.FLOAT, Usage.COMP_1): decode_float,
    (Category.FLOAT, Usage.COMP_2): decode_float,
}


def select_decoder(field: Field) -> Decoder:
    """The decoder for a field, or ``UnsupportedFieldError`` naming the field."""
    try:
        return DECODERS[(field.category, field.usage)]
    except KeyError:
        raise UnsupportedFieldError(field.name, field.usage.value, field.picture) from None
