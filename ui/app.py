"""`setup_ui(app, service)`: adds the clinician web UI to the daemon's aiohttp application.

The middleware here only acts on the UI's own routes (the daemon's /api/v1 passes through): it
loads the server-side session, picks the language, checks CSRF on every POST, sends anonymous
visitors to first-run set-up or login, and locked sessions to the lock screen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timezone
from pathlib import Path

import jinja2
from aiohttp import BodyPartReader, web

from crdt_model.errors import ClinicMeshError
from ui import clinical, i18n
from ui.auth import IDLE_LOCK_S, Sessions, csrf_ok
from ui.lockout import LOCKOUT_S, LockoutBook
from ui.records import User
from ui.service import ClinicService
from ui.views import (
    account,
    attachments,
    clinic_admin,
    consult,
    consultation,
    demographics,
    lab,
    patients,
    pharmacy,
    queue,
    reports,
    triage,
)
from ui.web import (
    END_SESSION,
    FACILITY,
    NEW_SESSION,
    SESSION,
    SESSION_COOKIE,
    TEMPLATES_DIR,
    UI_KEY,
    UPLOAD,
    USER,
    UiState,
    render,
    state,
)

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
# Paths anyone may open without logging in.
PUBLIC_PATHS = ("/login", "/setup", "/language")
# Requests the page makes by itself (live refresh): they must not keep a session awake.
LIVE_HEADER = "X-Live"
CSRF_FIELD_BYTES = 256  # a token is 43 characters
EVENTS_PATH = "/events"  # EventSource can't send headers; its (re)connects are not activity
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_environment() -> jinja2.Environment:
    """The Jinja2 environment: autoescaping, gettext through `ui.i18n`, format filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        date=i18n.fmt_date, datetime=i18n.fmt_datetime, time=i18n.fmt_time,
        number=i18n.fmt_number, date_of=i18n.fmt_day_of, ago=i18n.fmt_ago,
        duration=i18n.fmt_duration, allergen=clinical.allergen, lab_test=i18n.gettext,
    )
    return env


def setup_ui(
    app: web.Application,
    service: ClinicService,
    *,
    clock: Callable[[], float] = time.time,
    idle_lock_s: float = IDLE_LOCK_S,
    lockout_s: float = LOCKOUT_S,
    lockout_file: Path | None = None,
    pin_key: bytes = b"",
    tz: timezone | None = None,
) -> UiState:
    """Add the UI routes, static files and middleware to `app` (which serves /api/v1 too).

    `lockout_file` keeps wrong-PIN counters across restarts (in memory only when None);
    `pin_key` keys the PIN hashes written to the directory.
    """
    sessions = Sessions(clock=clock, idle_lock_s=idle_lock_s)
    lockouts = LockoutBook(clock=clock, path=lockout_file, lockout_s=lockout_s)
    ui = UiState(service=service, sessions=sessions, lockouts=lockouts, env=make_environment(),
                 clock=clock, tz=tz, pin_key=pin_key)
    app[UI_KEY] = ui
    before = set(app.router.resources())
    for module in (account, queue, patients, demographics, triage, consult, lab, pharmacy,
                   clinic_admin, reports, attachments, consultation):
        app.router.add_routes(module.routes)
    app.router.add_static("/static/", STATIC_DIR, name="ui_static")
    ui.resources = set(app.router.resources()) - before
    app.middlewares.append(ui_middleware)

    async def open_streams(_: web.Application) -> None:
        ui.closing = asyncio.Event()

    async def close_streams(_: web.Application) -> None:
        if ui.closing is not None:
            ui.closing.set()

    app.on_startup.append(open_streams)
    app.on_shutdown.append(close_streams)
    return ui


def create_ui_app(service: ClinicService, **options: object) -> web.Application:
    """A stand-alone application serving only the UI (tests, demos, benchmarks)."""
    app = web.Application()
    setup_ui(app, service, **options)  # type: ignore[arg-type]
    return app


@web.middleware
async def ui_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session, language, CSRF, set-up/login/lock redirects, security headers (UI routes only)."""
    ui = state(request)
    resource = request.match_info.route.resource
    if resource is None or resource not in ui.resources:
        return await handler(request)
    if request.path.startswith("/static/"):
        return await handler(request)
    agent = request.headers.get("User-Agent", "")
    session = ui.sessions.get(request.cookies.get(SESSION_COOKIE), agent)
    fresh = session is None
    if session is None:
        session = ui.sessions.new(agent)
    request[SESSION] = session
    language = session.language or i18n.best_language(request.headers.get("Accept-Language"))
    with i18n.speaking(language):
        try:
            response = await _guarded(request, handler)
        except web.HTTPNotFound:
            response = render(request, "error.html", status=404, heading=i18n.N_("Not found"),
                              message=i18n.N_("This patient or page is not on this device. "
                                              "Search again, or check the sync page."))
        except web.HTTPException as exc:
            _finish(request, exc, fresh)
            raise
        except ClinicMeshError:
            # A store or document failure the view did not expect: say so, in the user's
            # language, instead of a bare 500 (the details are in the daemon's log).
            log.exception("UI request %s %s failed", request.method, request.path)
            response = render(request, "error.html", status=500, heading=i18n.N_("Sorry"),
                              message=i18n.N_("Something went wrong on this device. Try again; "
                                              "if it keeps happening, tell the administrator."))
    _finish(request, response, fresh)
    return response


def _finish(request: web.Request, response: web.StreamResponse, fresh: bool) -> None:
    """Session cookie (HttpOnly, SameSite=Strict) and security headers on every UI response."""
    session = request[SESSION]  # login replaces it
    if response.prepared:  # a live event stream: headers already sent
        return
    if fresh or request.get(NEW_SESSION):
        response.set_cookie(
            SESSION_COOKIE, session.id, httponly=True, samesite="Strict", path="/"
        )
    if request.get(END_SESSION):
        response.del_cookie(SESSION_COOKIE, path="/")
    response.headers.update(SECURITY_HEADERS)


async def _posted_csrf(request: web.Request) -> object:
    """The CSRF token of a POST. An upload (multipart: a photo, a scanned document) carries it
    as its first field and the rest stays unread for the view (`UPLOAD`), so a file is never
    held whole in memory before its size is checked; other forms are read whole (they are
    small: the app's body limit)."""
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        first = await reader.next()
        request[UPLOAD] = reader
        if not isinstance(first, BodyPartReader) or first.name != "csrf":
            return None
        token = b""
        while len(token) <= CSRF_FIELD_BYTES and (piece := await first.read_chunk(
                CSRF_FIELD_BYTES)):
            token += piece
        return token.decode("ascii", "replace")
    posted = await request.post()
    return posted.get("csrf") or request.headers.get("X-CSRF-Token")


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    ui = state(request)
    session = request[SESSION]
    if request.method == "POST":
        token = await _posted_csrf(request)
        if not csrf_ok(session, token if isinstance(token, str) else None):
            return render(request, "error.html", status=403, message=i18n.N_(
                "This form has expired. Go back, reload the page and try again."
            ))
    facility = await ui.service.facility()
    if facility is None and request.path != "/setup" and request.path != "/language":
        raise web.HTTPSeeOther("/setup")
    if facility is not None:
        request[FACILITY] = facility
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    if session.user_id is None:
        target = "/login" if request.path == "/" else "/login?next=" + request.path_qs
        raise web.HTTPSeeOther(target)
    current = await _user(ui, session.user_id)
    if current is None or not current.active:
        ui.sessions.log_out(session)
        raise web.HTTPSeeOther("/login")
    request[USER] = current
    if session.locked and request.path not in ("/lock", "/logout"):
        if request.headers.get(LIVE_HEADER):
            raise web.HTTPUnauthorized()
        raise web.HTTPSeeOther("/lock")
    if session.must_change_pin and request.path not in ("/pin", "/logout"):
        if request.headers.get(LIVE_HEADER):
            raise web.HTTPUnauthorized()
        raise web.HTTPSeeOther("/pin")
    if not request.headers.get(LIVE_HEADER) and request.path != EVENTS_PATH:
        ui.sessions.touch(session)
    return await handler(request)


async def _user(ui: UiState, user_id: str) -> User | None:
    for candidate in await ui.service.users():
        if candidate.id == user_id:
            return candidate
    return None
