"""Who is calling: a bearer token on the API (see :mod:`mfpipe.service.settings`).

Without tokens (a loopback-only service) every caller is ``local`` and may do everything.
With tokens, a request without a valid one is 401; a read-only token's change is 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from mfpipe.service.settings import ServiceSettings


@dataclass(frozen=True)
class Caller:
    name: str
    read_only: bool


LOCAL = Caller("local", read_only=False)


def caller(request: Request) -> Caller:
    """The caller of a request, by its bearer token."""
    settings: ServiceSettings = request.app.state.settings
    if not settings.tokens:
        return LOCAL
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    token = settings.caller(secret.strip()) if scheme.lower() == "bearer" and secret else None
    if token is None:
        raise HTTPException(401, "a valid bearer token is required (Authorization: Bearer "
                                 "TOKEN)", headers={"WWW-Authenticate": "Bearer"})
    return Caller(token.name, token.read_only)


def changer(who: Annotated[Caller, Depends(caller)]) -> Caller:
    """A caller that may change things: launch, cancel, retry, delete, reconcile."""
    if who.read_only:
        raise HTTPException(403, f"token {who.name} is read-only: it cannot change anything")
    return who


Reader = Annotated[Caller, Depends(caller)]
Changer = Annotated[Caller, Depends(changer)]
