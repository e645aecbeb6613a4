"""How ``mfpipe serve`` runs: its database, jobs folder, and who may call it.

Bound to the loopback interface, the service may run without tokens (only this host's users
reach it). Bound anywhere else it refuses to start without one: every request then carries a
bearer token (the page: a session cookie made from one), and a read-only token may read
everything but change nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from mfpipe.errors import ConfigError


@dataclass(frozen=True)
class Token:
    """A caller's secret; ``name`` is what batches record as who asked."""

    name: str
    secret: str
    read_only: bool = False


@dataclass(frozen=True)
class ServiceSettings:
    db_url: str
    jobs_dir: Path
    tokens: tuple[Token, ...] = ()

    @classmethod
    def of(cls, db_url: str, jobs_dir: str | Path, host: str, token_file: str | None,
           env_token: str | None = None) -> ServiceSettings:
        """Check the settings before the service starts: the jobs folder exists, and a
        service reachable from other hosts has tokens."""
        folder = Path(jobs_dir)
        if not folder.is_dir():
            raise ConfigError(f"--jobs-dir {jobs_dir}: no such folder")
        tokens = read_tokens(token_file) if token_file else ()
        env_token = env_token if env_token is not None else os.environ.get("MFPIPE_TOKEN")
        if env_token:
            tokens += (Token("MFPIPE_TOKEN", env_token.strip()),)
        if not tokens and not _loopback(host):
            raise ConfigError(f"--host {host} lets other hosts in: give --token-file or "
                              "$MFPIPE_TOKEN (who may launch and delete loads), or bind "
                              "127.0.0.1")
        return cls(db_url, folder.resolve(), tokens)

    def caller(self, secret: str) -> Token | None:
        """The token whose secret this is (compared in constant time), or None."""
        found = None
        for token in self.tokens:
            if hmac.compare_digest(token.secret.encode(), secret.encode("utf-8", "replace")):
                found = token
        return found


def read_tokens(path: str) -> tuple[Token, ...]:
    """A token file: one ``NAME:SECRET`` per line, ``NAME:SECRET:read-only`` for a token
    that may only read; blank lines and ``#`` comments are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"--token-file {path}: cannot read it ({exc.strerror})") from None
    tokens = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]) or (
                len(parts) == 3 and parts[2] != "read-only") or len(parts[1]) < 16:
            raise ConfigError(f"--token-file {path}, line {number}: not NAME:SECRET or "
                              "NAME:SECRET:read-only with a secret of 16 characters or more")
        tokens.append(Token(parts[0], parts[1], len(parts) == 3))
    if not tokens:
        raise ConfigError(f"--token-file {path}: holds no token")
    return tuple(tokens)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
