"""The rejected and discarded records' original bytes: the run's bad and discard files.

A bad file holds each rejected record of the run once, in record order, whatever crashed
and restarted meanwhile. So each chunk's bytes are kept in a part of their own, named for
the chunk, in a hidden folder beside the output (``.mfpipe-<run id>.bad.parts``): a local
writer keeps them before it commits the chunk (a chunk committed has its part), a cluster's
launcher as the task's outcome comes. Each attempt ends by assembling the output from the
parts of the chunks in the ledger, in chunk order (a temporary file renamed over it: an
earlier run's content under the same name goes); once the run is loaded the parts go.

A chunk in the ledger without its part (a launcher that died between a task's commit and
its outcome, a restart given another ``--bad-file``) is decoded again by the restart for
its bytes, never loaded again (:func:`missing`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple, TypeVar

from mfpipe.db.explorer import ChunkRecord
from mfpipe.errors import OutputError

T = TypeVar("T")


class Kept(NamedTuple):
    """A chunk's records whose bytes go to an output: how many, and their bytes (a
    segment load's discards of other segments are counted, their bytes not kept)."""

    records: int
    data: bytes


class Outputs(NamedTuple):
    """Where a run's kept bytes go: its bad file, and its discard file if it discards
    records (``--when``)."""

    run_id: str
    bad_path: str
    discard_path: str | None

    def keep(self, chunk_id: int, rejected: Kept, discarded: Kept) -> None:
        """Keep a chunk's rejected and discarded records' bytes (nothing for none)."""
        for parts, _, kept in self._each(rejected, discarded):
            if kept.records:
                _write_part(parts, chunk_id, kept.data)

    def missing(self, chunk: ChunkRecord) -> bool:
        """Does a chunk the ledger holds lack a part it must have?"""
        return any(count and not (parts / _name(chunk.chunk_id)).exists()
                   for parts, _, count in self._each(chunk.rows_rejected,
                                                     chunk.rows_discarded))

    def assemble(self, chunk_ids: Iterable[int], loaded: bool) -> None:
        """Write each output from the parts of ``chunk_ids`` (the ledger's), in chunk order;
        ``loaded``: the run has every chunk, its parts go."""
        ids = sorted(chunk_ids)
        for parts, path, _ in self._each(None, None):
            if not parts.is_dir():
                continue
            found = [parts / _name(i) for i in ids if (parts / _name(i)).exists()]
            if found:
                _concatenate(Path(path), found)
            if loaded:
                shutil.rmtree(parts, ignore_errors=True)

    def _each(self, rejected: T, discarded: T) -> list[tuple[Path, str, T]]:
        """(its parts' folder, the output, the value given for it) for each output."""
        outputs = [("bad", self.bad_path, rejected)]
        if self.discard_path:
            outputs.append(("dsc", self.discard_path, discarded))
        return [(Path(path).parent / f".mfpipe-{self.run_id}.{kind}.parts", path, value)
                for kind, path, value in outputs]


def _name(chunk_id: int) -> str:
    return f"{chunk_id:010d}"


def _write_part(folder: Path, chunk_id: int, data: bytes) -> None:
    """The chunk's part, whole or not at all (written, synced, renamed into place)."""
    try:
        folder.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with open(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, folder / _name(chunk_id))
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError.of(folder, exc) from None


def _concatenate(output: Path, parts: list[Path]) -> None:
    """``output`` made of ``parts``, whole or not at all (as a file ``open`` would make)."""
    try:
        handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.",
                                             suffix=".tmp")
        try:
            with open(handle, "wb") as out:
                for part in parts:
                    with open(part, "rb") as source:
                        shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o666 & ~_UMASK)
            os.replace(temporary, output)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError.of(output, exc) from None


def _umask() -> int:
    """The process's umask, read without setting it (another thread may create a file)."""
    try:
        with open("/proc/self/status") as status:
            found = re.search(r"^Umask:\s*([0-7]+)", status.read(), re.MULTILINE)
    except OSError:
        found = None
    return int(found.group(1), 8) if found else 0o022


_UMASK = _umask()
