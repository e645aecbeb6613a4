"""COBOL copybooks into a :class:`Layout`: records, fields, offsets, sizes and Arrow types.

This package imports nothing else from mfpipe but :mod:`mfpipe.errors`, and no NumPy: the
layout is a description that decoders, DDL and reports all read.
"""

from __future__ import annotations

from pathlib import Path

from mfpipe.errors import InputError
from mfpipe.layout.parser import parse_copybook
from mfpipe.layout.passes import build_record
from mfpipe.layout.types import (LENGTH_KEY, Category, Condition, Field, Layout,
                                 OccursDependingOn, RecordLayout, SignPosition, Usage)

__all__ = ["LENGTH_KEY", "Category", "Condition", "Field", "Layout", "OccursDependingOn",
           "RecordLayout", "SignPosition", "Usage", "load_layout", "parse_layout", "read_copybook"]


def parse_layout(text: str, path: str = "<copybook>") -> Layout:
    """Parse copybook text; raises ``CopybookSyntaxError`` or ``LayoutError`` on bad input."""
    records = tuple(build_record(r.root, r.renames, path) for r in parse_copybook(text, path))
    return Layout(path=path, records=records)


def read_copybook(path: str | Path) -> str:
    """A copybook file's text (any single-byte encoding: bytes above 0x7F kept as latin-1)."""
    try:
        return Path(path).read_bytes().decode("latin-1")
    except OSError as exc:
        raise InputError(str(path), f"cannot read the copybook: {exc.strerror}") from None


def load_layout(path: str | Path) -> Layout:
    """Read and parse a copybook file."""
    return parse_layout(read_copybook(path), str(path))
