"""The ASGI app of ``mfpipe serve``: the batch and runs APIs over one job repository.

Loads never run in this process: launches start ``mfpipe batch run`` (which starts the same
launcher the CLI uses), restarts and reconciliations ``mfpipe restart`` and ``mfpipe
reconcile``; so stopping or restarting the service loses nothing, and it serves runs started
from the CLI as well as its own. Every response carries security headers; every error is a
problem document (:mod:`mfpipe.service.problems`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware
from swagger_ui_bundle import swagger_ui_path

from mfpipe.db.batches import BatchStore
from mfpipe.db.runs import RunStore
from mfpipe.jobs.batches import recover_batches
from mfpipe.service import batches, pages, problems, runs
from mfpipe.service.settings import ServiceSettings
from mfpipe.service.state import ServiceState

log = structlog.get_logger("mfpipe.service")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

DOCS = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mfpipe API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>
"""


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service over ``settings.db_url``'s job repository."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = RunStore(settings.db_url)
        try:
            store.prepare_control()
            batch_store = BatchStore(store)
            batch_store.prepare()
            lost = recover_batches(batch_store)
            if lost:
                log.warning("batches whose runner is gone marked FAILED", batches=lost)
            app.state.service = ServiceState(settings, store, batch_store)
            app.state.settings = settings
            yield
        finally:
            store.close()

    app = FastAPI(title="mfpipe", version=version("mfpipe"), lifespan=lifespan,
                  description="Batch operations and reconciliation of mainframe loads.",
                  docs_url=None, redoc_url=None)  # /docs: below
    problems.install(app)
    app.include_router(batches.router)
    app.include_router(runs.router)
    pages.install(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")),
              name="static")
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """Swagger UI over ``/openapi.json``, from the package's own copy (no CDN, no
        inline script)."""
        return HTMLResponse(DOCS)

    if not settings.tokens:  # loopback only: refuse other names (DNS rebinding)
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_NAMES))

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return app
