"""The web page's session: a signed cookie (HttpOnly, SameSite=Strict) made from a token, and
the CSRF token every change from the page must echo.

The cookie holds the token's name, whether it is read-only, when it expires and the session's
CSRF token, signed with HMAC-SHA256 under a key derived from the service's tokens: no state
in the web process, sessions survive a service restart, and removing a token from the token
file ends its sessions. A service without tokens (loopback only) gives every page an
anonymous session, for its CSRF token alone, signed with a key of its process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from mfpipe.service.settings import ServiceSettings

COOKIE = "mfpipe_session"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME_S = 12 * 3600


@dataclass(frozen=True)
class Session:
    name: str
    read_only: bool
    csrf: str
    expires: int


_PROCESS_KEY = secrets.token_bytes(32)  # without tokens: sessions of this process only


def _key(settings: ServiceSettings) -> bytes:
    if not settings.tokens:
        return _PROCESS_KEY
    material = "\n".join(f"{t.name}:{t.secret}:{t.read_only}" for t in settings.tokens)
    return hashlib.sha256(b"mfpipe-session\n" + material.encode()).digest()


def issue(settings: ServiceSettings, name: str, read_only: bool) -> tuple[Session, str]:
    """A new session and its cookie value."""
    session = Session(name, read_only, secrets.token_urlsafe(24), int(time.time()) + LIFETIME_S)
    payload = base64.urlsafe_b64encode(json.dumps(session.__dict__).encode()).decode()
    signature = hmac.new(_key(settings), payload.encode(), hashlib.sha256).hexdigest()
    return session, f"{payload}.{signature}"


def read(settings: ServiceSettings, cookie: str | None) -> Session | None:
    """The session of a cookie: None if it is missing, forged, expired, or its token is no
    longer one of the service's."""
    if not cookie or "." not in cookie:
        return None
    payload, signature = cookie.rsplit(".", 1)
    expected = hmac.new(_key(settings), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        session = Session(**json.loads(base64.urlsafe_b64decode(payload)))
    except (ValueError, TypeError):
        return None
    if session.expires < time.time():
        return None
    if settings.tokens and not any(t.name == session.name and t.read_only == session.read_only
                                   for t in settings.tokens):
        return None
    return session
