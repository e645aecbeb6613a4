"""Database URLs: one string from the operator, the right form for each driver, no secrets shown.

``sqlite:///mfpipe.db``, ``postgresql://user@host/db`` and ``oracle://user:pw@host/service``
are accepted as operators write them; SQLAlchemy gets its driver-qualified form, ADBC the
libpq URI, and logs and reports only ever see :func:`redact`'s output.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from mfpipe.db import dialects
from mfpipe.errors import ConfigError

DEFAULT_URL = "sqlite:///mfpipe.db"


def resolve(url: str | None) -> str:
    """``--db``, else ``$MFPIPE_DB``, else the embedded SQLite file."""
    return url or os.environ.get("MFPIPE_DB") or DEFAULT_URL


def parse(url: str) -> URL:
    """The SQLAlchemy URL with the driver mfpipe uses for that database."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"{redact(url)} is not a database URL such as {DEFAULT_URL} or "
                          "postgresql://user@host:5432/db") from None
    return parsed.set(drivername=dialects.get(parsed.get_backend_name()).driver)


def dialect_name(url: str) -> str:
    return parse(url).get_backend_name()


# query keys (any case) whose values are secrets, in libpq, SQLAlchemy and python-oracledb
SECRET_KEYS = frozenset({"password", "passwd", "pwd", "pass", "sslpassword", "new_password",
                         "wallet_password", "token", "access_token", "secret"})
# a secret inside a value: a libpq conninfo ("host=h password=x"), a URL with user-info
# ("oracle://scott:pw@db"), an Oracle connect string ("scott/pw@db")
_IN_VALUE = ((re.compile(r"(?i)\b(password|passwd|pwd|sslpassword)\s*=\s*('[^']*'|\S+)"),
              r"\1=***"),
             (re.compile(r"(//[^:/@\s]*):[^/\s]*@"), r"\1:***@"),  # to the last @: a
             (re.compile(r"^([^/@:\s]+)/\S*@"), r"\1/***@"))  # password may hold @


def redact(url: str) -> str:
    """The URL with every password replaced by ***, safe for logs, errors and reports: the
    user-info's, a password in the query (``?password=``, ``sslpassword``, ...), and one
    written inside a query value (a libpq conninfo in ``dbname``, a DSN with user-info)."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"
    shown = parsed.set(query={}).render_as_string(hide_password=True)
    pairs = [(key, "***" if key.lower() in SECRET_KEYS else _hidden(value))
             for key, values in parsed.query.items()
             for value in ((values,) if isinstance(values, str) else values)]
    return shown + ("?" + "&".join(f"{k}={quote(v, safe='*/:=@')}" for k, v in pairs)
                    if pairs else "")


def _hidden(value: str) -> str:
    for pattern, replacement in _IN_VALUE:
        value = pattern.sub(replacement, value)
    return value


def libpq_uri(url: str) -> str:
    """The ``postgresql://`` URI that libpq (psycopg, ADBC) expects. Query values are
    percent-encoded: SQLAlchemy writes a space as ``+``, which libpq would keep as a plus
    (``options=-c a=1 -c b=2`` would reach the server as one broken setting)."""
    parsed = parse(url).set(drivername="postgresql")
    uri = parsed.set(query={}).render_as_string(hide_password=False)
    pairs = [(key, value) for key, values in parsed.query.items()
             for value in ((values,) if isinstance(values, str) else values)]
    if not pairs:
        return uri
    return uri + "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def session_name(run_id: str) -> str:
    """The name a run's sessions carry on PostgreSQL (``application_name``)."""
    return f"mfpipe:{run_id}"


def session_url(url: str, run_id: str) -> str:
    """The URL a run's writers and launcher connect with: where the database can find
    sessions by name (PostgreSQL) it names them after the run, so that sessions a dead
    launcher left behind can be found and ended before the run restarts
    (:meth:`mfpipe.db.runs.RunStore.end_sessions`); other URLs are unchanged."""
    parsed = make_url(url)
    named = dialects.get(parsed.get_backend_name()).session_url(parsed, session_name(run_id))
    return url if named == parsed else named.render_as_string(hide_password=False)


def create_engine(url: str) -> sa.Engine:
    """A SQLAlchemy engine for control tables and DDL (not for bulk data)."""
    parsed = parse(url)
    return dialects.get(parsed.get_backend_name()).engine(parsed)
