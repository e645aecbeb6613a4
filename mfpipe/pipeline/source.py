"""Opening an input file for framing: memory-mapped, with clear errors for what goes wrong."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mfpipe.errors import InputError


@contextmanager
def open_input(path: str | Path) -> Iterator[memoryview]:
    """Map the file read-only; pages are read as framing reaches them, so memory stays flat."""
    location = Path(path)
    try:
        if location.is_dir():
            raise InputError(str(location), "is a directory, not a file")
        handle = open(location, "rb")
    except FileNotFoundError:
        raise InputError(str(location), "no such file") from None
    except PermissionError:
        raise InputError(str(location), "permission denied") from None
    except OSError as exc:
        raise InputError(str(location), f"cannot open: {exc.strerror}") from None
    with handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield memoryview(b"")
            return
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        try:
            yield view
        finally:
            view.release()
            try:
                mapped.close()
            except BufferError:  # a caller still holds a slice; the mapping closes with it
                pass
