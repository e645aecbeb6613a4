"""Code pages as 256-entry tables, built once per process and shared by every decoder.

Python's codecs cover cp037, cp273, cp500 and cp1140; the ``ebcdic`` package adds cp1047 and
cp1141-cp1148. A table maps each byte to its Unicode code point, so a whole chunk translates
in one NumPy ``take``. Every table is the IBM CDRA one, byte for byte (checked against glibc's
IBM charmaps in the tests), so every EBCDIC page reads X'15' as NEL (U+0085).
"""

from __future__ import annotations

import codecs
import functools
from dataclasses import dataclass

import numpy as np

from mfpipe.errors import ConfigError

_ASCII_FAMILY = {"ascii", "latin-1", "latin1", "iso-8859-1", "iso8859-1", "utf-8", "utf8"}
NOT_ASCII = 0xFF  # marks a byte whose character is not 7-bit ASCII in an ASCII table


@dataclass(frozen=True)
class Charset:
    """One code page: code points, an ASCII shortcut table and the bytes that matter to numbers."""

    name: str
    ebcdic: bool
    codepoints: np.ndarray  # uint32[256]
    ascii: np.ndarray  # uint8[256]: the ASCII byte, or NOT_ASCII
    space: int
    plus: int
    minus: int

    def encode_text(self, text: str) -> bytes:
        """Encode with this code page (used by the encoder and tests)."""
        return text.encode(self.codec_name)

    @property
    def codec_name(self) -> str:
        return "latin-1" if not self.ebcdic else self.name


@functools.cache
def charset(name: str) -> Charset:
    """The table for a code page name such as ``cp037``, ``cp1047`` or ``ascii``."""
    key = name.lower().replace("_", "-")
    ebcdic = key not in _ASCII_FAMILY
    if ebcdic:
        import ebcdic as _registers_more_codecs  # noqa: F401  (cp1047, cp1141-cp1148)
        try:
            codecs.lookup(key)
        except LookupError:
            raise ConfigError(f"unknown encoding {name!r}; use cp037, cp500, cp1047, cp273, "
                              "cp1140-cp1148 or ascii") from None
        chars = bytes(range(256)).decode(key)
    else:
        key = "ascii" if key == "ascii" else "latin-1"
        chars = bytes(range(256)).decode("latin-1")
    points = np.array([ord(c) for c in chars], dtype=np.uint32)
    if ebcdic:  # IBM CDRA: X'15' is NEL and X'25' is LF in every EBCDIC page; the ebcdic
        # package maps both to LF in cp1141-cp1148 and swaps them in cp1047 (z/OS USS style)
        points[0x15], points[0x25] = 0x85, 0x0A
    ascii_table = np.where(points < 128, points, NOT_ASCII).astype(np.uint8)
    encoded = " +-".encode(key if ebcdic else "latin-1")
    return Charset(key, ebcdic, points, ascii_table, encoded[0], encoded[1], encoded[2])


@functools.cache
def _ascii_tables(name: str, low_as_space: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ASCII table of a code page for single bytes, and for pairs of bytes (uint16)."""
    single = charset(name).ascii.copy()
    if low_as_space:
        single[0] = ord(" ")
    pairs = np.arange(65536, dtype=np.uint16).view(np.uint8).reshape(-1, 2)
    return single, single[pairs].reshape(-1).view(np.uint16)


def translate(matrix: np.ndarray, name: str, low_as_space: bool) -> np.ndarray:
    """The ASCII byte (or ``NOT_ASCII``) of every byte of a [rows, width] matrix, as a new
    contiguous matrix; ``low_as_space`` turns 0x00 into a space.

    Why pairs: ``np.take`` costs about the same per element whatever the element size, so
    looking bytes up two at a time in a 65,536-entry table (128 KiB, it stays in cache) halves
    the cost of the biggest pass of text decoding.
    """
    single, pairs = _ascii_tables(name, low_as_space)
    if matrix.shape[1] % 2 or matrix.strides[1] != 1:
        return np.take(single, matrix)
    return np.take(pairs, matrix.view(np.uint16)).view(np.uint8)
