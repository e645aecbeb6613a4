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

import structlog
from fastapi import FastAPI, Request, Response

from mfpipe.db.batches import BatchStore
from mfpipe.db.runs import RunStore
from mfpipe.jobs.batches import recover_batches
from mfpipe.service import batches, problems, runs
from mfpipe.service.settings import ServiceSettings
from mfpipe.service.state import ServiceState

log = structlog.get_logger("mfpipe.service")
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
                  docs_url=None, redoc_url=None)
    problems.install(app)
    app.include_router(batches.router)
    app.include_router(runs.router)

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return app
