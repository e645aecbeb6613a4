"""The rejected and discarded records' original bytes: the run's bad and discard files.

A bad file holds each rejected record of the run once, in record order, whatever crashed
and restarted meanwhile. So each chunk's bytes are kept in a part of their own, named for
the chunk, in a hidden folder beside the output (``.mfpipe-<run id>.bad.parts``): a local
writer keeps them before it commits the chunk (a chunk committed has its part), a cluster's
launcher as the task's outcome comes. Each attempt ends by assembling the output from the
parts of the chunks in the ledger, in chunk order (a temporary file renamed over it, so an
earlier run's content under the same name goes); once the run is completed the parts go.

A chunk in the ledger without its part (a launcher that died between a task's commit and
its outcome, a restart given another ``--bad-file``) is decoded again by the restart for
its bytes, never loaded again (:meth:`Outputs.missing`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from mfpipe import storage
from mfpipe.errors import OutputError

if TYPE_CHECKING:
    from mfpipe.db.explorer import ChunkRecord


class Kept(NamedTuple):
    """A chunk's records whose bytes go to an output: how many, and their bytes (a
    segment load's discards of other segments are counted, their bytes not kept)."""

    records: int
    data: bytes


class _Output(NamedTuple):
    path: Path  # the bad or discard file
    parts: Path  # the folder of its chunks' parts
    what: str  # how the operator names it


class Outputs(NamedTuple):
    """Where a run's kept bytes go: its bad file, and its discard file if it discards
    records (``--when``)."""

    run_id: str
    bad_path: str
    discard_path: str | None

    def check(self) -> None:
        """Refuse now (78) an output that could not be made later: its folder must be
        writable (the parts and the assembled file are made there) and an existing one a
        regular file (``/dev/null`` would be replaced by a file of customer data)."""
        for output in self._outputs():
            OutputError.check(output.path, output.what)
            target = output.path.resolve()  # a link's target is replaced, not the link
            if target.exists() and not target.is_file():
                raise OutputError(str(output.path), f"cannot write the {output.what}: not a "
                                                    "regular file")
            for folder in {output.parts.parent, target.parent}:
                if not os.access(folder, os.W_OK):
                    raise OutputError(str(output.path), f"cannot write the {output.what}: "
                                                        f"folder {folder} is not writable")

    def keep(self, chunk_id: int, rejected: Kept, discarded: Kept) -> None:
        """Keep a chunk's rejected and discarded records' bytes (nothing for none)."""
        for output, kept in zip(self._outputs(), (rejected, discarded)):
            if kept.records:
                _write_part(output.parts, chunk_id, kept.data)

    def missing(self, chunk: ChunkRecord) -> bool:
        """Does a chunk the ledger holds lack a part it must have?"""
        counts = (chunk.rows_rejected, chunk.rows_discarded)
        for output, count in zip(self._outputs(), counts):
            with _writing(output.parts):
                if count and not (output.parts / _name(chunk.chunk_id)).exists():
                    return True
        return False

    def assemble(self, chunk_ids: Iterable[int]) -> None:
        """Write each output from the parts of ``chunk_ids`` (the ledger's), in chunk order:
        an output that exists already is replaced even with nothing (it is this run's)."""
        ids = sorted(chunk_ids)
        for output in self._outputs():
            with _writing(output.path):
                found = [output.parts / _name(i) for i in ids
                         if (output.parts / _name(i)).exists()]
                if found or output.path.exists():
                    _concatenate(output.path.resolve(), found)

    def remove_parts(self) -> None:
        """The run is completed: its outputs are whole, their parts go."""
        for output in self._outputs():
            shutil.rmtree(output.parts, ignore_errors=True)

    def _outputs(self) -> Iterator[_Output]:
        kinds = [("bad", self.bad_path, "bad file (--bad-file)")]
        if self.discard_path:
            kinds.append(("dsc", self.discard_path, "discard file (--discard-file)"))
        for kind, given, what in kinds:
            path = Path(given)
            yield _Output(path, path.parent / f".mfpipe-{self.run_id}.{kind}.parts", what)


def _name(chunk_id: int) -> str:
    """A part's name: the chunk's number, zero-padded so names sort as chunks do."""
    return f"{chunk_id:010d}"


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """OS errors met on an output's files as the operator's OutputError (78), naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError.of(path, exc) from None


def _write_part(folder: Path, chunk_id: int, data: bytes) -> None:
    """The chunk's part, whole or not at all, synced (a power failure after the chunk's
    commit must not leave it empty under its name)."""
    with _writing(folder):
        folder.mkdir(exist_ok=True)
        storage.write_whole(folder / _name(chunk_id), lambda out: out.write(data),
                            sync=bool(data))


def _concatenate(output: Path, parts: list[Path]) -> None:
    """``output`` made of ``parts``, whole or not at all, with the mode ``open`` would give
    a new file (the umask applies)."""
    def copy(out: IO[bytes]) -> None:
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)

    storage.write_whole(output, copy, mode=0o666, sync=True)
