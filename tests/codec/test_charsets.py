"""Every supported code page, byte for byte against a reference table.

References: Python's own codecs where they exist (cp037, cp273, cp500, cp1140), glibc's IBM
charmaps (IBM CDRA tables, read through ``iconv``) for the pages Python lacks (cp1047,
cp1141-cp1148), which mfpipe takes from the ``ebcdic`` package. That package maps X'15' to LF
in cp1141-cp1148 (so two bytes decoded to one character) and swaps X'15'/X'25' in cp1047.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from mfpipe.codec.charsets import charset

PYTHON_CODECS = ["cp037", "cp273", "cp500", "cp1140"]
GLIBC = {"cp1047": "IBM1047", **{f"cp{n}": f"IBM{n}" for n in range(1141, 1149)}}


class TestCodePages:
    @pytest.mark.parametrize("name", PYTHON_CODECS)
    def test_python_codec_pages(self, name):
        """The table is Python's codec for all 256 bytes."""
        expected = [ord(c) for c in bytes(range(256)).decode(name)]
        assert charset(name).codepoints.tolist() == expected

    @pytest.mark.skipif(shutil.which("iconv") is None, reason="glibc iconv not installed")
    @pytest.mark.parametrize("name", sorted(GLIBC))
    def test_ibm_cdra_pages(self, name):
        """The table is the IBM CDRA one (glibc's charmap) for all 256 bytes: X'15' is NEL."""
        converted = subprocess.run(["iconv", "-f", GLIBC[name], "-t", "UTF-32BE"],
                                   input=bytes(range(256)), capture_output=True, check=True)
        expected = np.frombuffer(converted.stdout, dtype=">u4").tolist()
        assert len(expected) == 256
        assert charset(name).codepoints.tolist() == expected

    @pytest.mark.parametrize("name", PYTHON_CODECS + sorted(GLIBC))
    def test_every_byte_is_its_own_character(self, name):
        """256 bytes give 256 different characters, so text round-trips byte for byte."""
        table = charset(name)
        assert len(set(table.codepoints.tolist())) == 256
        assert (int(table.codepoints[0x15]), int(table.codepoints[0x25])) == (0x85, 0x0A)
