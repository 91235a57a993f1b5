"""Request plumbing shared by the views: the UI state, rendering, who is asking, today's date."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from aiohttp import MultipartReader, web
from markupsafe import Markup

from crdt_model.access import may
from crdt_model.attachments import MAX_ATTACHMENT_BYTES, megabytes
from ui import clinical, i18n
from ui.auth import Session, Sessions
from ui.lockout import LockoutBook
from ui.records import Facility, User
from ui.service import ClinicService

T = TypeVar("T")

TEMPLATES_DIR = Path(__file__).parent / "templates"
SESSION_COOKIE = "cm_session"


@dataclass
class UiState:
    """Everything the UI keeps for one aiohttp application."""

    service: ClinicService
    sessions: Sessions
    lockouts: LockoutBook
    env: jinja2.Environment
    clock: Callable[[], float]
    tz: timezone | None = None
    pin_key: bytes = b""  # keys PIN hashes (ui.auth.hash_pin); empty: unkeyed
    resources: set[Any] = field(default_factory=set)
    closing: Any = None  # asyncio.Event set on shutdown, ends live event streams


UI_KEY = web.AppKey("clinicmesh_ui", UiState)
SESSION = web.RequestKey("clinicmesh_session", Session)
USER = web.RequestKey("clinicmesh_user", User)
FACILITY = web.RequestKey("clinicmesh_facility", Facility)
NEW_SESSION = web.RequestKey("clinicmesh_new_session", bool)
END_SESSION = web.RequestKey("clinicmesh_end_session", bool)
# The rest of an upload's multipart body, after the CSRF field the middleware read.
UPLOAD = web.RequestKey("clinicmesh_upload", MultipartReader)


def state(request: web.Request) -> UiState:
    """The UI state of the application serving `request`."""
    return request.app[UI_KEY]


def service(request: web.Request) -> ClinicService:
    """The clinic service."""
    return state(request).service


def session(request: web.Request) -> Session:
    """The session the middleware attached."""
    found: Session = request[SESSION]
    return found


def user(request: web.Request) -> User:
    """The logged-in user (the middleware guarantees one on protected pages)."""
    found: User = request[USER]
    return found


def today(request: web.Request) -> str:
    """The clinic's local date, YYYY-MM-DD."""
    ui = state(request)
    return datetime.fromtimestamp(ui.clock(), tz=UTC).astimezone(ui.tz).date().isoformat()


def now_ms(request: web.Request) -> int:
    """The current time in epoch milliseconds."""
    return int(state(request).clock() * 1000)


def require(request: web.Request, action: str) -> User:
    """The user, if their roles allow `action`; otherwise a 403 page."""
    found = user(request)
    if not may(found.roles, action):
        raise web.HTTPForbidden(
            text=render_text(request, "error.html", message=i18n.N_(
                "Your role does not allow this page. Ask the administrator if you need it."
            )),
            content_type="text/html",
        )
    return found


def age_months(birth_date: str, day: str) -> int:
    """Whole months between a birth date and `day` (0 for a birth date in the future)."""
    born, now = date.fromisoformat(birth_date), date.fromisoformat(day)
    months = (now.year - born.year) * 12 + now.month - born.month - (now.day < born.day)
    return max(0, months)


def render_text(request: web.Request, template: str, **context: Any) -> str:
    """A template rendered in the request's language with the common context."""
    ui = state(request)
    current_user: User | None = request.get(USER)
    sess: Session | None = request.get(SESSION)
    base = {
        "lang": i18n.current_language(),
        "csrf": sess.csrf if sess else "",
        "me": current_user,
        "may": lambda action: bool(current_user and may(current_user.roles, action)),
        "path": request.path,
        "idle_lock_s": int(ui.sessions.idle_lock_s),
        "now_ms": now_ms(request),
        "tz": ui.tz,
        "clinical": clinical,
        "languages": i18n.LANGUAGES,
        "facility": request.get(FACILITY),
        "age_months": lambda birth: age_months(birth, today(request)),
        "language_name": i18n.language_name,
        "attachment_limit": MAX_ATTACHMENT_BYTES,
        "attachment_limit_mb": megabytes(MAX_ATTACHMENT_BYTES),
    }
    base.update(context)
    return ui.env.get_template(template).render(base)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """An HTML response."""
    return web.Response(
        text=render_text(request, template, **context), status=status, content_type="text/html"
    )


WORKLIST_WINDOW = 50


def worklist_window(items: list[T], show_all: bool) -> tuple[list[T], int]:
    """The first WORKLIST_WINDOW items (oldest first) and how many more wait, or all of them.

    A tablet at the lab bench or the pharmacy shows the next hour's work; the page stays fast
    however long the list grows, and `?all=1` shows every item."""
    if show_all:
        return items, 0
    return items[:WORKLIST_WINDOW], max(0, len(items) - WORKLIST_WINDOW)


def redirect(location: str) -> web.HTTPSeeOther:
    """A 303 to `location` (after a POST, so reloading does not post again)."""
    return web.HTTPSeeOther(location)


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else becomes the home page."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def svg(markup: str) -> Markup:
    """Trusted SVG we generated ourselves (QR codes, charts) for direct inclusion."""
    return Markup(markup)
