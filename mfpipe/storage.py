"""Where an input lives: a local path, or an object named by a URL (``s3://``, ``gs://``,
``abfs://``, ``hdfs://``: any protocol fsspec knows, through its optional backend).

An object is read whole once per launch host, into a local copy in the spool folder: the
launcher checksums it and plans its chunks from that copy (a V/VB file's plan walks every
record descriptor, so every byte is read anyway), and its processors map it. Tasks on a
cluster read only their own byte ranges from the store. The copy's name follows the object's
identity (URL, size, modification time and the store's tag, an S3 ETag say), so an object
replaced since is fetched again, never read from a stale copy (and the stale copies of that
URL go); one fetch at a time per copy (a lock beside it), into a private temporary file
renamed into place, checked against the object's identity after the fetch (an object
replaced while it was fetched is an error, not a mixed copy).

The spool folder is ``$MFPIPE_SPOOL``, or a folder of this user's own (mode 0700) in the
system's temporary folder: copies hold customer data, and a copy is trusted by its name.

Credentials come from the backend's own configuration (environment, profile, instance role),
never from the URL: a URL holding a password, or a signature or token in its query (a
presigned URL), is refused, since input names reach logs, reports and the file registry.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import glob as local_glob
import hashlib
import os
import re
import secrets
import stat as modes
import tempfile
from collections.abc import Callable, Iterator
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
_TAGS = ("ETag", "etag", "generation", "VersionId", "version_id", "md5Hash")
_MTIMES = ("LastModified", "last_modified", "updated", "mtime", "modified")
NO_SUCH_FILE = "no such file"


def is_url(path: str) -> bool:
    """Does ``path`` name an object in a store (a URL other than ``file://``)?"""
    return bool(_URL.match(path)) and not path.startswith("file://")


def absolute(path: str) -> str:
    """The name a launch records for ``path``: an object's URL as given (refused if it
    holds a secret or names a store mfpipe cannot reach: 78), a local file's absolute path
    (``file://`` URLs included)."""
    if is_url(path):
        _filesystem(path)
        return path
    return os.path.abspath(path.removeprefix("file://"))


@dataclass(frozen=True)
class Stat:
    """What tells a file's content has changed: size, modification time (naive UTC, to the
    microsecond) and, for an object, the store's tag (an ETag, a generation)."""

    size: int
    mtime: dt.datetime
    tag: str = ""


def stat(path: str) -> Stat:
    """The size, modification time and tag of a local file or an object (a missing one is
    the InputError :data:`NO_SUCH_FILE`)."""
    if not is_url(path):
        with reading(path):
            result = os.stat(path)
            if modes.S_ISDIR(result.st_mode):
                raise IsADirectoryError(path)
        return Stat(result.st_size, _naive_utc(result.st_mtime))
    fs, key = _filesystem(path)
    with reading(path):
        fs.invalidate_cache(key)  # a listing's cached entry may be older than the object
        info = fs.info(key)
        if info.get("type") == "directory":
            raise IsADirectoryError(path)
        modified = next((info[name] for name in _MTIMES if info.get(name)), None)
        if modified is None:
            try:
                modified = fs.modified(key)
            except NotImplementedError:  # the store keeps none: the tag and size tell
                modified = dt.datetime.fromtimestamp(0, dt.UTC)
        tag = next((str(info[name]) for name in _TAGS if info.get(name)), None)
        return Stat(int(info["size"]), _as_utc(modified), tag or str(fs.ukey(key)))


def check_readable(path: str) -> None:
    """66 now (75 for a store away) for an input that is missing or cannot be read, without
    reading it (an object is not fetched)."""
    stat(path)
    if not is_url(path):
        with reading(path):
            os.close(os.open(path, os.O_RDONLY))


def exists(path: str) -> bool:
    """Is there a file or object at ``path`` (a store that cannot say: its error)?"""
    if not is_url(path):
        return os.path.exists(path)
    fs, key = _filesystem(path)
    with reading(path):
        fs.invalidate_cache(key)
        return bool(fs.exists(key))


def glob(pattern: str) -> list[str]:
    """The files or objects a glob matches, sorted; objects as URLs of the pattern's own
    form (its host or account kept: fsspec's names drop them)."""
    if not is_url(pattern):
        return sorted(local_glob.glob(pattern))
    fs, key = _filesystem(pattern)
    parts = urlsplit(pattern)
    path = parts.path.lstrip("/")
    if not key.endswith(path):
        raise ConfigError(f"input {pattern}: a glob over {parts.scheme}:// URLs of this form "
                          "is not supported; name each object")
    root = key[:len(key) - len(path)]  # what the store's names carry for the host, if anything
    with reading(pattern):
        found = fs.glob(key, detail=True)
    return sorted(f"{parts.scheme}://{parts.netloc}/{name[len(root):].lstrip('/')}"
                  for name, info in found.items()
                  if info.get("type") != "directory" and name.startswith(root))


def has_magic(pattern: str) -> bool:
    """Is ``pattern`` a glob (for a URL: in its path; a query's ``?`` is not one)?"""
    return local_glob.has_magic(urlsplit(pattern).path if is_url(pattern) else pattern)


def open_binary(path: str) -> IO[bytes]:
    """``path`` open for reading its byte ranges through fsspec, without read-ahead: a task
    reads its chunk's bytes and no more (a store's default reads tens of MB beyond)."""
    fs, key = _filesystem(path)
    with reading(path):
        if fs.isdir(key):
            raise IsADirectoryError(path)
        return fs.open(key, "rb", cache_type="none")


def spool_folder() -> Path:
    """Where local copies and decompressed spools go: ``$MFPIPE_SPOOL``, or this user's
    own folder in the system's temporary folder, made private (0700)."""
    given = os.environ.get("MFPIPE_SPOOL")
    if given:
        return Path(given)
    folder = Path(tempfile.gettempdir()) / f"mfpipe-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = folder.lstat()
    if found.st_uid != os.getuid() or not modes.S_ISDIR(found.st_mode) or \
            found.st_mode & 0o077:
        raise ConfigError(f"spool folder {folder} is not this user's own private folder; set "
                          "$MFPIPE_SPOOL to one")
    return folder


def local_copy(url: str, known: Stat | None = None) -> Path:
    """The object's local copy, fetched now unless this identity's copy exists already
    (whole: a copy of another size is fetched again); the URL's stale copies go."""
    known = known or stat(url)
    copy = copy_path(url, known)

    def fetch(target: IO[bytes]) -> None:
        fetched = _fetch(url, target)
        now = stat(url)
        if now != known or fetched != known.size:
            raise InputError(url, f"changed while it was fetched ({known.size} bytes, tag "
                                  f"{known.tag!r}; now {now.size} bytes, tag {now.tag!r}, "
                                  f"{fetched} fetched): run it again once it is complete")

    produce(copy, fetch, url, lambda found: found.st_size == known.size)
    for stale in copy.parent.glob(f"mfpipe-{_url_key(url)}-*.copy"):
        if stale != copy:
            stale.unlink(missing_ok=True)  # another identity: a restart of it is refused
    return copy


def copy_path(url: str, known: Stat) -> Path:
    """Where the copy of this identity of the object goes (it may not exist)."""
    identity = f"{url}|{known.size}|{known.mtime.isoformat()}|{known.tag}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return spool_folder() / f"mfpipe-{_url_key(url)}-{digest}.copy"


def produce(target: Path, write: Callable[[IO[bytes]], None], source: str,
            whole: Callable[[os.stat_result], bool] = lambda found: True) -> None:
    """Make ``target`` with ``write`` unless it exists already (and is ``whole``): one
    maker at a time (a lock file beside it, whatever thread or process), written whole
    (:func:`write_whole`), so no reader ever sees a half-written one."""
    if _whole(target, whole):
        return
    locked = target.with_name(f"{target.name}.lock")
    try:
        with open(locked, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not _whole(target, whole):  # made by whoever held the lock before
                    write_whole(target, write)
            finally:
                locked.unlink(missing_ok=True)  # one who opened it meanwhile makes it again
    except OSError as exc:  # ``write``'s own errors are its to name
        raise InputError(source, f"cannot write into {target.parent}: {exc.strerror} (set "
                                 "$MFPIPE_SPOOL)") from None


def write_whole(target: Path, write: Callable[[IO[bytes]], object], mode: int = 0o600,
                sync: bool = False) -> None:
    """Replace ``target`` with what ``write`` writes, whole or not at all: into a new
    temporary file beside it (created with ``mode``, less the umask; synced if ``sync``),
    renamed over it; never a temporary file left behind."""
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            break
        except FileExistsError:
            continue
    try:
        with open(handle, "wb") as out:
            write(out)
            if sync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _whole(target: Path, whole: Callable[[os.stat_result], bool]) -> bool:
    try:
        return whole(target.stat())
    except FileNotFoundError:
        return False


def _fetch(url: str, target: IO[bytes]) -> int:
    """Copy the object into ``target`` in 8 MiB blocks (memory stays flat); its size."""
    fs, key = _filesystem(url)
    with reading(url):
        source = fs.open(key, "rb", block_size=_BLOCK)
    size = 0
    with source:
        while True:
            with reading(url):
                block = source.read(_BLOCK)
            if not block:
                return size
            try:
                target.write(block)
            except OSError as exc:
                raise InputError(url, f"cannot copy it into {spool_folder()}: "
                                      f"{exc.strerror} (set $MFPIPE_SPOOL)") from None
            size += len(block)


@contextmanager
def reading(path: str) -> Iterator[None]:
    """Errors of reading ``path`` as the operator needs them: an InputError (66) naming the
    path, or, for a store that cannot be reached, StorageUnavailableError (75). mfpipe's
    own errors, and programming errors, pass as they are."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(path, NO_SUCH_FILE) from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except (ConnectionError, TimeoutError) as exc:
        raise StorageUnavailableError(path, _reason(exc)) from None
    except OSError as exc:
        raise InputError(path, f"cannot read it: {_reason(exc)}") from None
    except (TypeError, AttributeError, NameError, AssertionError):
        raise
    except Exception as exc:  # a backend's own (botocore's, gcsfs's): named, not a traceback
        if type(exc).__module__.split(".")[0] == "mfpipe":
            raise
        unreachable = any(word in type(exc).__name__ for word in ("Connect", "Timeout"))
        if unreachable:
            raise StorageUnavailableError(path, _reason(exc)) from None
        raise InputError(path, f"cannot read it: {_reason(exc)}") from None


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the object's name in it; 78 when the URL holds
    a secret, or the protocol, fsspec or its backend is missing."""
    parts = urlsplit(url)
    if parts.password is not None or any(
            _SECRET.search(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise ConfigError(f"input {_without_secrets(url)}: a URL must not hold a password, "
                          "a signature or a token (it would reach logs and reports); give "
                          "credentials in the store's own configuration (environment, "
                          "profile, role)")
    protocol = url.split("://", 1)[0] if _URL.match(url) else "file"
    try:
        import fsspec.core
    except ImportError:
        raise ConfigError(f"input {url}: reading it needs fsspec: pip install "
                          f"'mfpipe[{_EXTRAS.get(protocol, 'dask')}]'") from None
    with reading(url):  # a store reached as its filesystem is made (HDFS's namenode)
        try:
            return fsspec.core.url_to_fs(url)
        except ImportError as exc:
            extra = _EXTRAS.get(protocol)
            hint = f"pip install 'mfpipe[{extra}]'" if extra else f"install its backend ({exc})"
            raise ConfigError(f"input {url}: reading {protocol}:// needs fsspec's backend "
                              f"for it: {hint}") from None
        except ValueError as exc:
            raise ConfigError(f"input {url}: {protocol}:// cannot be opened: {exc} (is it a "
                              "storage fsspec knows, and is its configuration complete?)"
                              ) from None


def _url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}".splitlines()[0][:300]


def _naive_utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def _as_utc(modified: Any) -> dt.datetime:
    """A store's modification time (a datetime, an ISO text, seconds) as naive UTC."""
    if isinstance(modified, (int, float)):
        return _naive_utc(modified)
    if isinstance(modified, str):
        modified = dt.datetime.fromisoformat(modified.replace("Z", "+00:00"))
    if not isinstance(modified, dt.datetime):  # unknown: the size and the tag still tell
        return dt.datetime(1970, 1, 1)
    if modified.tzinfo is not None:
        modified = modified.astimezone(dt.UTC).replace(tzinfo=None)
    return modified


def _without_secrets(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.password is not None else ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{user}{host}{port}", query="***" if parts.query else ""
                          ).geturl()
