"""Who is calling, and may they change things.

An API client shows a bearer token; the web page, the session cookie its login made (see
:mod:`mfpipe.service.sessions`). Without tokens (a loopback-only service) every caller is
``local``. A change (launch, cancel, retry, delete, reconcile) also needs a read-write token
and, from a browser, proof that the request comes from the service's own page: the session's
CSRF token in a header, or, with no session, a JSON request (which another site's page cannot
send without a CORS preflight this service never grants).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from mfpipe.service import sessions
from mfpipe.service.sessions import Session
from mfpipe.service.settings import ServiceSettings


@dataclass(frozen=True)
class Caller:
    name: str
    read_only: bool
    session: Session | None = None  # came with the page's cookie
    bearer: bool = False  # came with a token (no browser sends one by itself)


LOCAL = Caller("local", read_only=False)


def identify(request: Request) -> Caller | None:
    """The caller of a request, or None when it is nobody the service knows."""
    settings: ServiceSettings = request.app.state.settings
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        token = settings.caller(secret.strip())
        return None if token is None else Caller(token.name, token.read_only, bearer=True)
    session = sessions.read(settings, request.cookies.get(sessions.COOKIE))
    if session is not None:
        return Caller(session.name, session.read_only, session)
    return LOCAL if not settings.tokens else None


def caller(request: Request) -> Caller:
    """The API's caller: 401 for a request without a valid token or session."""
    found = identify(request)
    if found is None:
        raise HTTPException(401, "a valid bearer token is required (Authorization: Bearer "
                                 "TOKEN)", headers={"WWW-Authenticate": "Bearer"})
    return found


def changer(request: Request, who: Annotated[Caller, Depends(caller)]) -> Caller:
    """A caller that may change things, asking from where it may."""
    if who.read_only:
        raise HTTPException(403, f"token {who.name} is read-only: it cannot change anything")
    if who.bearer:
        return who
    if who.session is not None:
        if not hmac.compare_digest(request.headers.get(sessions.CSRF_HEADER, "").encode(),
                                   who.session.csrf.encode()):
            raise HTTPException(403, "the page's CSRF token is missing or wrong: reload "
                                     "the page")
    elif request.method == "POST" and _media_type(request) != "application/json":
        raise HTTPException(403, "a change without a token must be a JSON request "
                                 "(Content-Type: application/json)")
    return who


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


Reader = Annotated[Caller, Depends(caller)]
Changer = Annotated[Caller, Depends(changer)]
