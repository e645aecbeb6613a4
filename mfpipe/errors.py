"""The one exception tree of mfpipe.

Every error carries structured attributes and builds its message from a template kept in
``MESSAGES`` under a stable code (``MFP-nnnn``), so operators can search for a code and tests
can assert on attributes instead of on wording. Every error pickles (its constructor
arguments are kept in ``args``), because errors cross process boundaries in the pipeline.
"""

from __future__ import annotations

import enum
import os
from typing import Any, ClassVar

class ExitCode(enum.IntEnum):
    """The exit codes of ARCHITECTURE.md, named once (sysexits.h where one fits, Airflow's
    skip code for nothing to do); the values are what the process returns."""

    OK = 0
    USAGE = 64  # also an operator action refused: see the README's table
    DATA = 65  # error limit, a failed check: the data
    NO_INPUT = 66
    INTERNAL = 70
    TEMPORARY = 75  # held by a live launcher, the database unavailable: try again
    CONFIG = 78
    NOTHING_TO_DO = 99
    STOPPED = 143  # SIGTERM, SIGINT or `runs cancel`, at a chunk boundary


EXIT_OK, EXIT_USAGE, EXIT_DATA, EXIT_NO_INPUT = (ExitCode.OK, ExitCode.USAGE, ExitCode.DATA,
                                                 ExitCode.NO_INPUT)
EXIT_INTERNAL, EXIT_TEMPORARY, EXIT_CONFIG = (ExitCode.INTERNAL, ExitCode.TEMPORARY,
                                              ExitCode.CONFIG)
EXIT_NOTHING_TO_DO, EXIT_STOPPED = ExitCode.NOTHING_TO_DO, ExitCode.STOPPED


def first_line(exc: BaseException) -> str:
    """An error's first line for a one-line message (drivers append SQL and hints below
    it); its type's name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


MESSAGES: dict[str, str] = {
    "MFP-1001": "{path}:{line}:{column}: {message}",
    "MFP-1002": "layout {layout}: {message}",
    "MFP-1003": "field {field} ({usage}, PIC {picture}) has no decoder",
    "MFP-1004": "{path}:{line}:{column}: {field}: {message}",
    "MFP-2001": "{path}: {message} at byte offset {offset}; header={header_hex}; {hint}",
    "MFP-2002": "{path}: {message}",
    "MFP-2003": "{path}: {message}",
    "MFP-3001": ("field {field}, record {record_no} at byte offset {offset}: {reason} "
                 "(raw={raw_hex})"),
    "MFP-4001": "{message}",
    "MFP-4002": "{message}",
    "MFP-5001": "loading {table} (chunk {batch_id}) failed: {message}{preview}",
    "MFP-5002": "database unavailable: {message}",
    "MFP-5003": ("chunk {chunk_id} (worker {worker_id}, records {first_record_no}-"
                 "{last_record_no}) is not in {table} as it was decoded: {message}; nothing "
                 "of the chunk was committed"),
    "MFP-5004": "Dask cluster unavailable: {message}",
    "MFP-5005": "{path}: storage unavailable: {message}",
    "MFP-6001": "run {run_id}: {message}",
    "MFP-6002": "batch {batch_id}: {message}",
    "MFP-9001": "{message}",
}


class MfpipeError(Exception):
    """Root of every mfpipe error; ``code`` is stable, ``exit_code`` is what the CLI returns."""

    code: ClassVar[str] = "MFP-9001"
    exit_code: ClassVar[int] = EXIT_INTERNAL

    def __init__(self, **attrs: Any) -> None:
        super().__init__(attrs)
        self.attrs = attrs
        for key, value in attrs.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.attrs))

    def __str__(self) -> str:
        return f"{self.code} " + MESSAGES[self.code].format(**self.attrs)


def _rebuild(cls: type[MfpipeError], attrs: dict[str, Any]) -> MfpipeError:
    """An error as it was pickled: its attributes as they were, not its constructor's
    arguments (a constructor may derive attributes of its own, as LoadError's preview)."""
    error = cls.__new__(cls)
    MfpipeError.__init__(error, **attrs)
    return error


class CopybookSyntaxError(MfpipeError):
    """A copybook that cannot be parsed: names the file, line, column and what was expected."""

    code = "MFP-1001"
    exit_code = 78

    def __init__(self, path: str, line: int, column: int, message: str, field: str = "") -> None:
        super().__init__(path=path, line=line, column=column, message=message, field=field)


class LayoutError(MfpipeError):
    """A copybook that parses but describes an impossible or unsupported layout."""

    code = "MFP-1002"
    exit_code = 78

    def __init__(self, layout: str, message: str) -> None:
        super().__init__(layout=layout, message=message)


class UnsupportedLayoutError(MfpipeError):
    """A copybook form that COBOL allows but mfpipe refuses rather than read wrongly (a
    variable table inside a variable table, say); names the entry's line and column."""

    code = "MFP-1004"
    exit_code = 78

    def __init__(self, path: str, line: int, column: int, field: str, message: str) -> None:
        super().__init__(path=path, line=line, column=column, field=field, message=message)


class UnsupportedFieldError(MfpipeError):
    """No decoder is registered for a field's category and usage."""

    code = "MFP-1003"
    exit_code = 78

    def __init__(self, field: str, usage: str, picture: str) -> None:
        super().__init__(field=field, usage=usage, picture=picture)


class FramingError(MfpipeError):
    """The file's bytes do not frame into records: bad RDW/BDW, truncated record, wrong size."""

    code = "MFP-2001"
    exit_code = EXIT_DATA

    def __init__(self, path: str, offset: int, message: str, header_hex: str = "",
                 hint: str = "") -> None:
        super().__init__(path=path, offset=offset, message=message, header_hex=header_hex or "-",
                         hint=hint or "check the record format options")


class InputError(MfpipeError):
    """The input file is missing or unreadable."""

    code = "MFP-2002"
    exit_code = EXIT_NO_INPUT
    path: str
    message: str

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path=path, message=message)


class DecodeError(MfpipeError):
    """One value that cannot be decoded, raised only where a reject row is not possible."""

    code = "MFP-3001"
    exit_code = EXIT_DATA

    def __init__(self, field: str, record_no: int, offset: int, reason: str, raw_hex: str) -> None:
        super().__init__(field=field, record_no=record_no, offset=offset, reason=reason,
                         raw_hex=raw_hex[:32])


class OutputError(MfpipeError):
    """An output (a converted file, a sample, a report, a bad file) cannot be written where
    the operator asked: a folder that does not exist, no permission, a full disk."""

    code = "MFP-2003"
    exit_code = EXIT_CONFIG

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path=path, message=message)

    @classmethod
    def of(cls, path: str | os.PathLike[str], exc: OSError) -> OutputError:
        """The error of an ``OSError`` met while writing ``path``."""
        return cls(str(path), f"cannot write it: {exc.strerror or exc}")

    @classmethod
    def check(cls, path: str | os.PathLike[str], what: str = "output") -> None:
        """Refuse now an output that could not be written later: its folder must exist,
        and the file, if it exists, be writable (if not, the folder)."""
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise cls(str(path), f"cannot write the {what}: folder {folder} does not exist")
        if not os.access(path if os.path.exists(path) else folder, os.W_OK):
            raise cls(str(path), f"cannot write the {what}: permission denied")


class ConfigError(MfpipeError):
    """A bad option value or option combination."""

    code = "MFP-4001"
    exit_code = EXIT_CONFIG

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


class NotAllowedError(MfpipeError):
    """A request for what the service does not allow: a job file outside its jobs folder,
    an input its job file does not name, a change with a read-only token."""

    code = "MFP-4002"
    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


class LoadError(MfpipeError):
    """A bulk load that the database refused; values are shown only when asked for."""

    code = "MFP-5001"
    exit_code = EXIT_INTERNAL
    table: str
    batch_id: int
    message: str
    statement: str
    params_preview: str

    def __init__(self, table: str, batch_id: int, message: str, statement: str = "",
                 params_preview: str = "") -> None:
        preview = f"; first rows: {params_preview}" if params_preview else ""
        super().__init__(table=table, batch_id=batch_id, message=message, statement=statement,
                         params_preview=params_preview, preview=preview)


class TransientLoadError(LoadError):
    """A load that may succeed if tried again: lost connection, deadlock, lock timeout."""

    exit_code = EXIT_TEMPORARY


class TerminalLoadError(LoadError):
    """A load that will fail again the same way: bad data for the column, missing table."""


class ChunkProofError(MfpipeError):
    """A chunk whose staging rows, measured in the database inside its own transaction, are
    not what its processor decoded (a trigger, a default or a type changed them): the
    chunk rolls back and the run fails, restartable once the cause is gone."""

    code = "MFP-5003"
    exit_code = EXIT_DATA

    def __init__(self, table: str, chunk_id: int, worker_id: int, first_record_no: int,
                 last_record_no: int, message: str) -> None:
        super().__init__(table=table, chunk_id=chunk_id, worker_id=worker_id,
                         first_record_no=first_record_no, last_record_no=last_record_no,
                         message=message)


class DatabaseUnavailableError(MfpipeError):
    """The database cannot be reached (after retries)."""

    code = "MFP-5002"
    exit_code = EXIT_TEMPORARY

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


class ClusterUnavailableError(MfpipeError):
    """The Dask scheduler cannot be reached, or went away (``--executor dask``)."""

    code = "MFP-5004"
    exit_code = EXIT_TEMPORARY

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


class StorageUnavailableError(MfpipeError):
    """The object store holding an input cannot be reached (its backend's retries spent)."""

    code = "MFP-5005"
    exit_code = EXIT_TEMPORARY

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path=path, message=message)


class RunError(MfpipeError):
    """A run that ended FAILED or STOPPED; ``exit_code`` says which."""

    code = "MFP-6001"

    def __init__(self, run_id: str, message: str, exit_code: int = EXIT_INTERNAL) -> None:
        super().__init__(run_id=run_id, message=message, exit_code=exit_code)


class BatchError(MfpipeError):
    """An action on a batch that its state refuses (``exit_code``: 66 when there is no
    such batch, 64 when it is not finished or has nothing to do)."""

    code = "MFP-6002"

    def __init__(self, batch_id: str, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(batch_id=batch_id, message=message, exit_code=exit_code)
