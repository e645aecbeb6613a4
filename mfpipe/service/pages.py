"""The console's web page: server-rendered HTML (Jinja2, every value escaped) over the same
data as the API, with one small script of its own (``static/console.js``: progress bars that
refresh every 2 s, actions that ask before they destroy). No build step, no CDN.

With tokens, a page needs the session a sign-in made (else it goes to the sign-in page);
without, every page gets an anonymous session for its CSRF token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from mfpipe.db.batches import BatchStatus
from mfpipe.db.status import ACTIVE, RESTARTABLE, RunStatus
from mfpipe.errors import EXIT_NO_INPUT, BatchError, MfpipeError
from mfpipe.jobs.jobfile import read_job
from mfpipe.jobs.operations import statistics
from mfpipe.recon import ReconciliationService
from mfpipe.report import REPORT_CSS, Bar, bar_chart, report_sections
from mfpipe.service import sessions
from mfpipe.service.auth import Caller, identify
from mfpipe.service.settings import ServiceSettings
from mfpipe.service.state import ServiceState
from mfpipe.service.state import state as service_state

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
TABS = (("/ui/", "Launch"), ("/ui/active", "Active"), ("/ui/history", "History"),
        ("/ui/runs", "Runs"), ("/ui/statistics", "Statistics"))
PAGE = 50


class _SignIn(Exception):
    """A page asked for without a session, on a service with tokens."""


@dataclass(frozen=True)
class Pages:
    page: int
    last: int
    query: dict[str, str]

    def link(self, page: int) -> str:
        return "?" + urlencode({**self.query, "page": page})


class Login(BaseModel):
    token: str


def _page(request: Request, template: str, title: str, tab: str = "", **context: Any
          ) -> Response:
    """A page, with the caller's session (a new anonymous one without tokens)."""
    settings: ServiceSettings = request.app.state.settings
    who = identify(request)
    cookie = None
    if who is None or (who.session is None and not who.bearer):
        if settings.tokens:
            raise _SignIn()
        session, cookie = sessions.issue(settings, "local", False)
        who = Caller("local", False, session)
    csrf = who.session.csrf if who.session else ""
    response = templates.TemplateResponse(request, template, {
        "title": title, "tab": tab, "tabs": TABS, "who": who.name, "csrf": csrf,
        "read_only": who.read_only, **context})
    if cookie:
        _set_cookie(response, cookie)
    return response


def _set_cookie(response: Response, cookie: str) -> None:
    response.set_cookie(sessions.COOKIE, cookie, max_age=sessions.LIFETIME_S, httponly=True,
                        samesite="strict", path="/")


def install(app: Any) -> None:
    """The pages, and the sign-in redirect of a page asked for without a session."""
    app.include_router(router)

    @app.exception_handler(_SignIn)
    async def sign_in(request: Request, exc: _SignIn) -> Response:
        return RedirectResponse("/ui/login", status_code=303)

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/ui/", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {
        "title": "Sign in", "tab": "", "tabs": (), "who": "", "csrf": "", "read_only": True})


@router.post("/login")
def login(body: Login, request: Request) -> Response:
    """Sign in with a token: the session cookie (HttpOnly, SameSite=Strict)."""
    settings: ServiceSettings = request.app.state.settings
    token = settings.caller(body.token.strip())
    if token is None:
        return JSONResponse({"detail": "not a token of this service"}, status_code=401)
    _, cookie = sessions.issue(settings, token.name, token.read_only)
    response = JSONResponse({"message": f"signed in as {token.name}"})
    _set_cookie(response, cookie)
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def launch_page(request: Request) -> Response:
    folder = service_state(request).settings.jobs_dir
    jobs = []
    for path in sorted(folder.rglob("*.toml")):
        if not path.resolve().is_relative_to(folder):
            continue  # a symbolic link out of the jobs folder: not launchable
        entry: dict[str, Any] = {"file": str(path.relative_to(folder)), "name": path.stem}
        try:
            settings = read_job(path)
            entry.update(name=settings.get("job") or path.stem,
                         source=settings.get("input_path", "(no source.path)"))
        except MfpipeError as exc:
            entry["error"] = str(exc).split(" ", 1)[1]
        jobs.append(entry)
    return _page(request, "launch.html", "Launch", "/ui/", jobs=jobs, folder=str(folder))


@router.get("/active", response_class=HTMLResponse)
def active_page(request: Request) -> Response:
    state = service_state(request)
    batches = [b for s in (BatchStatus.RUNNING, BatchStatus.QUEUED)
               for b in state.batches.batches(status=s, limit=200)[0]]
    runs = [r for s in ACTIVE for r in state.store.runs(status=s, limit=200)]
    return _page(request, "batches.html", "Active", "/ui/active",
                 batches=_with_counts(state, batches), runs=runs, filters=None)


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, status: str = "", job: str = "", since: str = "",
                 until: str = "", page: int = 1) -> Response:
    state = service_state(request)
    page = max(page, 1)
    found, total = state.batches.batches(
        status=status or None, job=job or None, since=_day(since), until=_day(until, 1),
        offset=(page - 1) * PAGE, limit=PAGE)
    filters = {"status": status, "job": job, "since": since, "until": until}
    return _page(request, "batches.html", "History", "/ui/history",
                 batches=_with_counts(state, found), runs=None, filters=filters,
                 statuses=list(BatchStatus), pages=_pages(page, total, filters))


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: str) -> Response:
    state = service_state(request)
    batch = state.batches.batch(batch_id)
    if batch is None:
        raise BatchError(batch_id, "no such batch", EXIT_NO_INPUT)
    operations = [{**asdict(op), "run_ids": state.batches.runs_of(op)}
                  for op in state.batches.operations(batch_id)]
    return _page(request, "batch.html", f"Batch {batch_id}", "", batch=batch,
                 operations=operations, finished=BatchStatus(batch.status).finished)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, status: str = "", job: str = "", since: str = "",
              until: str = "", page: int = 1) -> Response:
    store = service_state(request).store
    page = max(page, 1)
    where: dict[str, Any] = {"status": status or None, "job": job or None,
                             "since": _day(since), "before": _day(until, 1)}
    runs = store.runs(**where, limit=PAGE, offset=(page - 1) * PAGE)
    filters = {"status": status, "job": job, "since": since, "until": until}
    return _page(request, "runs.html", "Runs", "/ui/runs", runs=runs, filters=filters,
                 statuses=[s for s in RunStatus if s != RunStatus.LOADED],
                 pages=_pages(page, store.run_count(**where), filters))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    store = service_state(request).store
    report = ReconciliationService(store).report(run_id)
    run = report.run
    return _page(request, "run.html", f"Run {run_id}", "", run=run,
                 report=report_sections(report), report_css=REPORT_CSS,
                 active=run.status in ACTIVE, restartable=run.status in RESTARTABLE,
                 rejects=store.reject_count(run_id))


@router.get("/runs/{run_id}/rejects", response_class=HTMLResponse)
def rejects_page(request: Request, run_id: str, page: int = 1) -> Response:
    store = service_state(request).store
    page = max(page, 1)
    total = store.reject_count(run_id)
    return _page(request, "rejects.html", f"Rejects of run {run_id}", "", run_id=run_id,
                 rejects=store.rejects(run_id, PAGE, (page - 1) * PAGE), total=total,
                 pages=_pages(page, total, {}))


@router.get("/statistics", response_class=HTMLResponse)
def statistics_page(request: Request, since: str = "", until: str = "") -> Response:
    store = service_state(request).store
    start = _day(since) or (dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0,
                                                              second=0, microsecond=0)
                            - dt.timedelta(days=30))
    stats = statistics(store, start, _day(until, 1))
    days = stats["days"]
    charts = {
        "runs": bar_chart("chart-runs", "Runs per day", [
            Bar(str(d["day"]), d["runs"], f"{d['runs']} ({d['failed']} failed)",
                f"{d['day']}: {d['completed']} completed, {d['failed']} failed")
            for d in days]),
        "records": bar_chart("chart-records", "Records read per day", [
            Bar(str(d["day"]), d["records_read"], f"{d['records_read']:,}",
                f"{d['day']}: {d['records_rejected']:,} rejected") for d in days]),
        "checks": bar_chart("chart-checks", "Most failing checks", [
            Bar(c["check"], c["failures"], str(c["failures"]), c["check"])
            for c in stats["failing_checks"]]),
    }
    return _page(request, "statistics.html", "Statistics", "/ui/statistics", stats=stats,
                 charts=charts, since=since or start.date().isoformat(), until=until)


def _with_counts(state: ServiceState, batches: list[Any]) -> list[dict[str, Any]]:
    counts = state.batches.op_counts([b.batch_id for b in batches])
    return [{**asdict(b), "operations": counts[b.batch_id]} for b in batches]


def _pages(page: int, total: int, query: dict[str, str]) -> Pages:
    return Pages(page, max(1, -(-total // PAGE)), {k: v for k, v in query.items() if v})


def _day(text: str, plus_days: int = 0) -> dt.datetime | None:
    """A date of a filter form (``YYYY-MM-DD``) as naive UTC midnight; empty or malformed
    text filters nothing."""
    try:
        return dt.datetime.fromisoformat(text) + dt.timedelta(days=plus_days) if text else None
    except ValueError:
        return None
