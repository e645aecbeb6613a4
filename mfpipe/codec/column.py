"""The result of decoding one field over a whole chunk."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa


class DecodedColumn(NamedTuple):
    """Values (nulls included) plus a per-record reason code; 0 means valid."""

    values: pa.Array
    reasons: np.ndarray | None = None  # uint8 Reason codes, None when every value is valid


def merge_reasons(*parts: tuple[np.ndarray, int]) -> np.ndarray | None:
    """The first failing reason per record from (mask, reason) pairs, or None if all pass."""
    result: np.ndarray | None = None
    for mask, reason in parts:
        if not mask.any():
            continue
        if result is None:
            result = np.zeros(len(mask), dtype=np.uint8)
        result[(result == 0) & mask] = reason
    return result
