"""Where an input lives: a local path, or an object named by a URL (``s3://``, ``gs://``,
``abfs://``, ``hdfs://``: any protocol fsspec knows, through its optional backend).

An object is read whole once per launch host, into a local copy in the spool folder
(``$MFPIPE_SPOOL``, default the system's temporary folder): the launcher checksums it and
plans its chunks from that copy (a V/VB file's plan walks every record descriptor, so every
byte is read anyway), and processors on the same host map it. Tasks on a cluster read only
their own byte ranges from the store. The copy's name follows the object's identity (URL,
size, modification time and the store's tag, an S3 ETag say), so an object replaced since is
fetched again, never read from a stale copy; it is written to a temporary name and renamed,
and checked against the object's identity after the fetch (an object replaced while it was
fetched is an error, not a mixed copy).

Credentials come from the backend's own configuration (environment, profile, instance role),
never from the URL: a URL holding a password is refused, since input names reach logs,
reports and the file registry.
"""

from __future__ import annotations

import datetime as dt
import glob as local_glob
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from mfpipe.errors import ConfigError, InputError, StorageUnavailableError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_SECRET = re.compile(r"sig|token|secret|passw|credential|key", re.IGNORECASE)
_BLOCK = 8 << 20
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "abfs": "azure",
           "abfss": "azure", "az": "azure", "adl": "azure"}


def is_url(path: str) -> bool:
    """Does ``path`` name an object in a store (a URL other than ``file://``)?"""
    return bool(_URL.match(path)) and not path.startswith("file://")


def absolute(path: str) -> str:
    """The name a launch records for ``path``: an object's URL as given, a local file's
    absolute path (``file://`` URLs included)."""
    if is_url(path):
        check_url(path)
        return path
    return os.path.abspath(path.removeprefix("file://"))


def check_url(url: str) -> None:
    """Refuse (78) a URL that holds a password or a signature, token or key in its query
    (a presigned URL's), or whose store mfpipe cannot reach."""
    parts = urlsplit(url)
    secret = parts.password is not None or any(
        _SECRET.search(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    if secret:
        raise ConfigError(f"input {_without_secrets(url)}: a URL must not hold a password, "
                          "a signature or a token (it would reach logs and reports); give "
                          "credentials in the store's own configuration (environment, "
                          "profile, role)")
    _filesystem(url)


@dataclass(frozen=True)
class Stat:
    """What tells a file's content has changed: size, modification time (naive UTC, to the
    microsecond) and, for an object, the store's tag (an ETag, a generation)."""

    size: int
    mtime: dt.datetime
    tag: str = ""


def stat(path: str) -> Stat:
    """The size, modification time and tag of a local file or an object."""
    if not is_url(path):
        result = os.stat(path)
        return Stat(result.st_size, _naive_utc(result.st_mtime))
    fs, key = _filesystem(path)
    with reading(path):
        fs.invalidate_cache(key)  # a listing's cached entry may be older than the object
        info = fs.info(key)
        if info.get("type") == "directory":
            raise IsADirectoryError(path)
        try:
            modified = fs.modified(key)
        except (NotImplementedError, OSError):
            modified = dt.datetime.fromtimestamp(0, dt.UTC)
        if modified.tzinfo is not None:
            modified = modified.astimezone(dt.UTC).replace(tzinfo=None)
        return Stat(int(info["size"]), modified, str(fs.ukey(key)))


def glob(pattern: str) -> list[str]:
    """The files or objects a glob matches, sorted (objects as URLs)."""
    if not is_url(pattern):
        return sorted(local_glob.glob(pattern))
    fs, key = _filesystem(pattern)
    protocol = pattern.split("://", 1)[0]
    with reading(pattern):
        found = fs.glob(key, detail=True)
    return sorted(f"{protocol}://{name}" for name, info in found.items()
                  if info.get("type") != "directory")


def has_magic(pattern: str) -> bool:
    return local_glob.has_magic(pattern)


def open_binary(path: str) -> IO[bytes]:
    """``path`` open for reading, through fsspec (a task's byte ranges)."""
    fs, key = _filesystem(path)
    with reading(path):
        if fs.isdir(key):
            raise IsADirectoryError(path)
        return fs.open(key, "rb")


def spool_folder() -> Path:
    """Where local copies and decompressed spools go (``$MFPIPE_SPOOL``)."""
    return Path(os.environ.get("MFPIPE_SPOOL") or tempfile.gettempdir())


def local_copy(url: str, known: Stat | None = None) -> Path:
    """The object's local copy, fetched now unless this identity's copy exists already."""
    known = known or stat(url)
    copy = copy_path(url, known)
    if copy.exists():
        return copy
    partial = copy.with_name(f"{copy.name}.{os.getpid()}.part")
    try:
        fetched = _fetch(url, partial)
        now = stat(url)
        if now != known or fetched != known.size:
            raise InputError(url, f"changed while it was fetched ({known.size} bytes, tag "
                                  f"{known.tag!r}; now {now.size} bytes, tag {now.tag!r}, "
                                  f"{fetched} fetched): run it again once it is complete")
        os.replace(partial, copy)
    finally:
        partial.unlink(missing_ok=True)  # never a half-written copy left behind
    return copy


def _fetch(url: str, partial: Path) -> int:
    """Copy the object into ``partial`` in 8 MiB blocks (memory stays flat); its size."""
    fs, key = _filesystem(url)
    with reading(url):
        source = fs.open(key, "rb", block_size=_BLOCK)
    try:
        target = open(partial, "wb")
    except OSError as exc:
        source.close()
        raise InputError(url, f"cannot copy it into {partial.parent}: {exc.strerror} "
                              "(set $MFPIPE_SPOOL)") from None
    size = 0
    with source, target:
        while True:
            with reading(url):
                block = source.read(_BLOCK)
            if not block:
                return size
            try:
                target.write(block)
            except OSError as exc:
                raise InputError(url, f"cannot copy it into {partial.parent}: "
                                      f"{exc.strerror} (set $MFPIPE_SPOOL)") from None
            size += len(block)


def copy_path(url: str, known: Stat) -> Path:
    """Where the copy of this identity of the object goes (it may not exist)."""
    identity = f"{url}|{known.size}|{known.mtime.isoformat()}|{known.tag}"
    return spool_folder() / f"mfpipe-{hashlib.sha256(identity.encode()).hexdigest()[:24]}.copy"


@contextmanager
def reading(path: str) -> Iterator[None]:
    """Errors of reading ``path`` as the operator needs them: an InputError (66) naming the
    path, or, for a store that cannot be reached, StorageUnavailableError (75)."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except (ConnectionError, TimeoutError) as exc:
        raise StorageUnavailableError(path, _reason(exc)) from None
    except OSError as exc:
        raise InputError(path, f"cannot read it: {_reason(exc)}") from None
    except Exception as exc:  # a backend's own (botocore's, gcsfs's): named, not a traceback
        if type(exc).__module__.split(".")[0] == "mfpipe":
            raise
        unreachable = any(word in type(exc).__name__ for word in ("Connect", "Timeout"))
        if unreachable:
            raise StorageUnavailableError(path, _reason(exc)) from None
        raise InputError(path, f"cannot read it: {_reason(exc)}") from None


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the object's name in it (78 when the protocol,
    or fsspec or its backend, is missing)."""
    protocol = url.split("://", 1)[0] if _URL.match(url) else "file"
    try:
        import fsspec.core
    except ImportError:
        raise ConfigError(f"input {url}: reading it needs fsspec: pip install "
                          f"'mfpipe[{_EXTRAS.get(protocol, 'dask')}]'") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        extra = _EXTRAS.get(protocol)
        hint = f"pip install 'mfpipe[{extra}]'" if extra else f"install its backend ({exc})"
        raise ConfigError(f"input {url}: reading {protocol}:// needs fsspec's backend for "
                          f"it: {hint}") from None
    except ValueError as exc:
        raise ConfigError(f"input {url}: {protocol}:// is not a storage fsspec knows "
                          f"({exc})") from None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}".splitlines()[0][:300]


def _naive_utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def _without_secrets(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.password is not None else ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{user}{host}{port}", query="***" if parts.query else ""
                          ).geturl()
