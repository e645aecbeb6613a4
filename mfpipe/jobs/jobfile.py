"""Job files: one TOML file says what a nightly job loads, where, and what it must prove.

A job file is read into the same option names the ``run`` command parses, so a flag given on
the command line overrides the file and both take one path to a JobSpec. Every key is
checked: an unknown key or a value of the wrong type is a configuration error (exit 78)
naming the file and the key. Relative paths are relative to the job file's folder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from mfpipe import storage
from mfpipe.errors import ConfigError

# section -> key -> (option name, accepted type); lists and tables are turned into the
# shapes the command-line options have (comma-joined text, NAME=VALUE pairs)
_TEXT, _INT, _BOOL, _LIST, _TABLE = str, int, bool, list, dict
SECTIONS: dict[str, dict[str, tuple[str, type]]] = {
    "job": {"name": ("job", _TEXT)},
    "source": {
        "path": ("input_path", _TEXT), "layout": ("layout_path", _TEXT),
        "record": ("record_name", _TEXT), "encoding": ("encoding", _TEXT),
        "recfm": ("recfm", _TEXT), "lrecl": ("lrecl", _INT), "bdw": ("bdw", _BOOL),
        "rdw_little_endian": ("rdw_little_endian", _BOOL),
        "rdw_excludes_header": ("rdw_excludes_header", _BOOL),
        "skip_header_bytes": ("skip_header_bytes", _INT),
        "skip_trailer_bytes": ("skip_trailer_bytes", _INT), "trim": ("trim", _TEXT),
        "record_start_offset": ("record_start_offset", _INT),
        "record_end_offset": ("record_end_offset", _INT),
        "record_length_field": ("record_length_field", _TEXT),
        "record_length_adjust": ("record_length_adjust", _INT),
        "odo_framing": ("odo_framing", _BOOL),
        "spaces_numeric": ("spaces_numeric", _TEXT), "low_values": ("low_values", _TEXT),
        "float_format": ("float_format", _TEXT), "strict_signs": ("strict_signs", _BOOL),
        "binary_range": ("binary_range", _TEXT), "odo": ("odo", _TEXT),
        "invalid_numeric": ("invalid_numeric", _TEXT),
        "dates": ("dates", _TABLE), "branches": ("branches", _TABLE),
        "segment": ("segment", _TEXT), "segments": ("segments", _BOOL),
        "parents": ("parents", _TABLE),
    },
    "target": {
        "db": ("db_url", _TEXT), "db_env": ("db_env", _TEXT),
        "final_table": ("final_table", _TEXT), "staging_table": ("staging_table", _TEXT),
        "key": ("key", _LIST),
        "duplicate_keys": ("duplicate_keys", _TEXT),
        "loader": ("loader", _TEXT), "direct_path": ("direct_path", _BOOL),
        "keep_staging_days": ("keep_staging_days", _INT),
    },
    "pipeline": {
        "processors": ("processors", _INT), "writers": ("writers", _INT),
        "chunk_records": ("chunk_records", _INT), "max_errors": ("max_errors", _INT),
        "empty_file": ("empty_file", _TEXT), "skip_records": ("skip_records", _INT),
        "load_records": ("load_records", _INT), "when": ("when", _TEXT),
        "discard_file": ("discard_file", _TEXT),
        "bad_file": ("bad_file", _TEXT), "retry_seconds": ("retry_seconds", _INT),
        "parallel_files": ("parallel_files", _INT), "stop_on_error": ("stop_on_error", _BOOL),
        "heartbeat_ttl": ("heartbeat_ttl", _INT),
        "executor": ("executor", _TEXT), "scheduler": ("scheduler", _TEXT),
    },
    "reconcile": {
        "money": ("money", _LIST), "hash_columns": ("hash_columns", _LIST),
        "rules": ("rules", _LIST), "condition_rules": ("condition_rules", _BOOL),
        "trailer": ("trailer", _TABLE),
    },
}
_TRAILER = {"record": _TEXT, "count": _TEXT, "totals": _TABLE}
_PATHS = ("input_path", "layout_path", "bad_file", "discard_file")


def read_job(path: str | Path) -> dict[str, Any]:
    """The job file's settings under the ``run`` command's option names."""
    location = Path(path)
    try:
        data = tomllib.loads(location.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"job file {location}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"job file {location}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"job file {location}: not valid TOML: {exc}") from None
    settings: dict[str, Any] = {}
    for section, table in data.items():
        keys = SECTIONS.get(section)
        if keys is None or not isinstance(table, dict):
            raise ConfigError(f"job file {location}: [{section}] is not a section of a job "
                              f"file (sections: {', '.join(SECTIONS)})")
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(f"job file {location}: {section}.{key} is not a known key "
                                  f"(known: {', '.join(keys)})")
            name, kind = keys[key]
            _check_type(location, f"{section}.{key}", value, kind)
            settings.update(_as_options(location, name, value))
    for name in _PATHS:  # an absolute path or a URL stays as it is; a glob stays a glob
        if name in settings and not storage.is_url(settings[name]):
            given = Path(settings[name].removeprefix("file://")).expanduser()
            settings[name] = str(location.parent / given)
    return settings


def _check_type(location: Path, key: str, value: Any, kind: type) -> None:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is list and ok:
        ok = all(isinstance(v, str) for v in value)
    if not ok:
        expected = {str: "text", int: "a whole number", bool: "true or false",
                    list: "a list of text", dict: "a table"}[kind]
        shown = f"a {type(value).__name__} (not shown: it may hold a password)" \
            if key.startswith("target.db") else repr(value)
        raise ConfigError(f"job file {location}: {key} must be {expected}, not {shown}")


def _as_options(location: Path, name: str, value: Any) -> dict[str, Any]:
    """A job-file value in the shape of the command-line option it stands for."""
    if name == "db_env":
        if value not in os.environ:
            raise ConfigError(f"job file {location}: target.db_env names ${value}, which is "
                              "not set")
        return {"db_url": os.environ[value]}
    if name in ("key", "hash_columns"):
        return {name: ",".join(value)}
    if name in ("money", "rules"):
        return {name: tuple(value)}
    if name in ("dates", "branches", "parents"):
        return {name: tuple(f"{k}={v}" for k, v in value.items())}
    if name == "trailer":
        return _trailer(location, value)
    return {name: value}


def _trailer(location: Path, table: dict[str, Any]) -> dict[str, Any]:
    for key, value in table.items():
        if key not in _TRAILER:
            raise ConfigError(f"job file {location}: reconcile.trailer.{key} is not a known key "
                              f"(known: {', '.join(_TRAILER)})")
        _check_type(location, f"reconcile.trailer.{key}", value, _TRAILER[key])
    return {"trailer_record": table.get("record"), "trailer_count": table.get("count"),
            "trailer_totals": tuple(f"{k}={v}" for k, v in table.get("totals", {}).items())}
