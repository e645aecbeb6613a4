"""Errors as RFC 9457 problem details, in the CLI's exit-code vocabulary.

Every refusal the CLI would exit with (66 no such run, 64 an action its state refuses, 78 a
bad job file, 75 the database away) reaches an API client as ``application/problem+json``
with the same ``exit_code`` and error ``code``; no traceback and no database URL ever does.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mfpipe.errors import (EXIT_CONFIG, EXIT_DATA, EXIT_INTERNAL, EXIT_NO_INPUT,
                           EXIT_TEMPORARY, EXIT_USAGE, MfpipeError, NotAllowedError)

STATUS_OF_EXIT: dict[int, int] = {
    EXIT_USAGE: 409, EXIT_DATA: 422, EXIT_NO_INPUT: 404, EXIT_CONFIG: 422, EXIT_TEMPORARY: 503,
    EXIT_INTERNAL: 500}
EXIT_OF_STATUS: dict[int, int] = {
    400: EXIT_USAGE, 401: EXIT_USAGE, 403: EXIT_USAGE, 404: EXIT_NO_INPUT, 405: EXIT_USAGE,
    409: EXIT_USAGE, 422: EXIT_USAGE}
TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 422: "Unprocessable Content", 500: "Internal Server Error",
          503: "Service Unavailable"}
log = structlog.get_logger("mfpipe.service")


def problem(request: Request, status: int, detail: str, exit_code: int,
            code: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
            "detail": detail, "instance": request.url.path, "exit_code": exit_code,
            **({"code": code} if code else {}), **extra}
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem."""

    @app.exception_handler(MfpipeError)
    async def mfpipe_error(request: Request, exc: MfpipeError) -> JSONResponse:
        status = 403 if isinstance(exc, NotAllowedError) else \
            STATUS_OF_EXIT.get(exc.exit_code, 500)
        return problem(request, status, str(exc).split(" ", 1)[1], exc.exit_code, exc.code)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(request, exc.status_code, str(exc.detail),
                       EXIT_OF_STATUS.get(exc.status_code, EXIT_INTERNAL),
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"where": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors[:5])
        return problem(request, 422, detail, EXIT_USAGE, errors=errors)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", path=request.url.path)
        return problem(request, 500, f"internal error: {type(exc).__name__}", EXIT_INTERNAL)
