"""Opening an input file for framing: memory-mapped, with clear errors for what goes wrong.

Compressed files (gzip, bzip2, xz: recognised by their magic bytes, whatever their name) are
read transparently: they are decompressed once, streamed in 1 MiB blocks (memory stays flat),
into a spool file that is then mapped like any input. Framing, chunk byte offsets and reject
offsets all refer to the decompressed bytes. The spool's name follows the compressed file's
identity (path, size, modification time, inode), so the reader and every processor of a run
map the same spool; it is written to a temporary name and renamed, so a reader never sees a
half-written one, and a process that finds none makes it. ``release_spool`` removes it when a
load is done; ``$MFPIPE_SPOOL`` chooses its folder (:func:`mfpipe.storage.spool_folder`).

An object in a store (``s3://...``: :mod:`mfpipe.storage`) is mapped from its local copy,
then read as a local file would be; a task on a cluster reads only its own byte ranges.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import gzip
import hashlib
import lzma
import mmap
import os
import zlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from mfpipe import storage
from mfpipe.errors import InputError, MfpipeError


def _gzip(path: str) -> io.BufferedIOBase:
    return gzip.open(path, "rb")


def _bzip2(path: str) -> io.BufferedIOBase:
    return bz2.open(path, "rb")


def _xz(path: str) -> io.BufferedIOBase:
    return lzma.open(path, "rb")


def _is_gzip(head: bytes) -> bool:
    """RFC 1952: 1F 8B, method 8 (deflate), no reserved flag bits (an RDW of 0x1F8B is not)."""
    return head[:3] == b"\x1f\x8b\x08" and len(head) > 3 and head[3] & 0xE0 == 0


def _is_bzip2(head: bytes) -> bool:
    """'BZh', a block size 1-9, then a block's magic (pi's digits) or, for an empty stream,
    the end-of-stream magic (sqrt(pi)'s)."""
    return head[:3] == b"BZh" and len(head) == 10 and head[3:4] in b"123456789" and \
        head[4:10] in (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")


def _is_xz(head: bytes) -> bool:
    return head[:6] == b"\xfd7zXZ\x00"


_COMPRESSIONS: tuple[tuple[Callable[[bytes], bool], Callable[[str], io.BufferedIOBase]], ...] = (
    (_is_gzip, _gzip), (_is_bzip2, _bzip2), (_is_xz, _xz))


@contextmanager
def open_input(path: str | Path) -> Iterator[memoryview]:
    """Map the file read-only (a compressed one: its decompressed spool); pages are read as
    framing reaches them, so memory stays flat."""
    with _opened(str(path)) as handle:
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


@contextmanager
def _opened(path: str) -> Iterator[IO[bytes]]:
    """The file holding ``path``'s records, open: itself, its decompressed spool, an
    object's local copy or that copy's spool (errors name ``path``, not the copy)."""
    location = Path(local_records(path))
    try:
        handle = _open(location)
        opener = _compression(handle.read(10))
        if opener is not None:
            handle.close()
            handle = _open_spool(location, opener)
    except InputError as exc:
        if location == Path(path):
            raise
        raise InputError(path, f"{exc.message} (its local copy {location})") from None
    with handle:
        yield handle


class ByteRanges:
    """An input read one byte range at a time, by a task that reads only its own chunk
    (``--executor dask``): through fsspec, so the read is the filesystem's own (a local or
    shared path here); a compressed input through its decompressed spool, mapped (the
    ranges are of the decompressed bytes, as framing's offsets are)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._files = contextlib.ExitStack()
        self._mapped: memoryview | None = None
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = self._files.enter_context(storage.open_binary(path))
        with storage.reading(path):
            head = self._file.read(10)
        if _compression(head) is not None:
            self._files.close()
            self._file = None
            self._mapped = self._files.enter_context(open_input(path))

    def read(self, offset: int, length: int) -> np.ndarray:
        """The bytes from ``offset``, at most ``length`` of them (fewer at the end)."""
        if self._mapped is not None:
            return np.frombuffer(self._mapped, dtype=np.uint8)[offset:offset + length]
        assert self._file is not None
        try:
            with self._lock, storage.reading(self.path):  # one file position: a worker's
                self._file.seek(offset)                     # threads' tasks take turns
                data = self._file.read(length)
        except InputError as exc:
            raise InputError(self.path, f"cannot read bytes {offset}-{offset + length}: "
                                        f"{exc.message}") from None
        return np.frombuffer(data, dtype=np.uint8)

    @property
    def mapped(self) -> bool:
        """Read through a decompressed spool on this host (a compressed input)?"""
        return self._mapped is not None

    def close(self) -> None:
        self._files.close()


def local_records(path: str) -> str:
    """Where this host reads ``path``'s bytes: itself, or an object's local copy (fetched
    now if this identity's is missing)."""
    return str(storage.local_copy(path)) if storage.is_url(path) else path


def release_spool(path: str | Path) -> None:
    """Remove the decompressed spool of a compressed input, and an object's local copy, if
    there are any (a load is done with them; a process still mapping one keeps its pages)."""
    location = _local(str(path))
    if location is None:
        return
    try:
        spool = _spool_path(location)
    except OSError:
        return
    spool.unlink(missing_ok=True)
    if location != Path(path):
        location.unlink(missing_ok=True)


def records_size(path: str | Path) -> int | None:
    """How many bytes of records the file holds as read: its size, or a compressed file's
    decompressed size once a launch has decompressed it (None before, or if it is gone; for
    an object, None until a launch on this host has copied it)."""
    location = _local(str(path))
    try:
        if location is None:
            return None
        with open(location, "rb") as handle:
            if _compression(handle.read(10)) is None:
                return location.stat().st_size
        return _spool_path(location).stat().st_size
    except OSError:
        return None


def _local(path: str) -> Path | None:
    """The local file holding ``path``'s bytes: itself, or an object's copy on this host
    (None when there is none, or the store cannot say which)."""
    if not storage.is_url(path):
        return Path(path)
    try:
        copy = storage.copy_path(path, storage.stat(path))
    except MfpipeError:
        return None
    return copy if copy.exists() else None


def _open(location: Path) -> IO[bytes]:
    try:
        if location.is_dir():
            raise InputError(str(location), "is a directory, not a file")
        return open(location, "rb")
    except FileNotFoundError:
        raise InputError(str(location), "no such file") from None
    except PermissionError:
        raise InputError(str(location), "permission denied") from None
    except OSError as exc:
        raise InputError(str(location), f"cannot open: {exc.strerror}") from None


def _compression(head: bytes) -> Callable[[str], io.BufferedIOBase] | None:
    return next((opener for known, opener in _COMPRESSIONS if known(head)), None)


def _spool_path(location: Path) -> Path:
    stat = location.stat()
    identity = f"{location.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return storage.spool_folder() / f"mfpipe-{digest}.spool"


def _open_spool(location: Path, opener: Callable[[str], io.BufferedIOBase]) -> IO[bytes]:
    """The decompressed copy of ``location``, open; made again if a run that ended removed
    it between finding and opening it."""
    for _ in range(3):
        spool = _spool(location, opener)
        try:
            return open(spool, "rb")
        except FileNotFoundError:
            continue
        except OSError:
            return _open(spool)  # its error, named
    return _open(_spool(location, opener))


def _spool(location: Path, opener: Callable[[str], io.BufferedIOBase]) -> Path:
    """The decompressed copy of ``location``, made now unless it exists already."""
    spool = _spool_path(location)

    def decompress(target: IO[bytes]) -> None:
        try:
            with opener(str(location)) as source:
                while block := source.read(1 << 20):
                    target.write(block)
        except OSError as exc:
            if exc.errno is not None:  # the disk's: the folder cannot take it
                raise InputError(str(location), f"cannot decompress it into {spool.parent}: "
                                                f"{exc.strerror} (set $MFPIPE_SPOOL)") from None
            raise InputError(str(location), _CORRUPT.format(exc)) from None
        except (EOFError, lzma.LZMAError, zlib.error) as exc:
            raise InputError(str(location), _CORRUPT.format(exc or type(exc).__name__)
                             ) from None

    storage.produce(spool, decompress, str(location))
    return spool


_CORRUPT = "is compressed but cannot be decompressed: {} (truncated or corrupt?)"
