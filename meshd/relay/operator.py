"""The relay operator's page (`GET /relay/operator`, login required): the clinics the relay
serves with their last contact, charts, linked devices and errors, the audit of cross-clinic
access, and the tiers (the upstream link of each clinic: state, last contact, backlog; the
downstream relays); `meshd relay status --json` prints the same.

Login is with the operator token in `DIR/operator-token` (mode 0600, made on the relay's first
run); the session is a cookie holding an expiry and an HMAC of it under that token (HttpOnly,
Secure, SameSite=Strict). Text comes from the UI's catalogs in four languages (ui.i18n), in the
browser's language.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from meshd.relay.tiers import tier_status
from ui import i18n
from ui.i18n import gettext as _

if TYPE_CHECKING:
    from meshd.relay.server import RelayServer

TOKEN_FILE = "operator-token"
COOKIE = "relay_operator"
SESSION_S = 12 * 3600
PAGE = "/relay/operator"
MAX_FORM_BYTES = 4096


def operator_token(data_dir: Path) -> str:
    """The operator's login token, made on first use."""
    path = data_dir / TOKEN_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(os.urandom(24).hex() + "\n")
    return path.read_text().strip()


def _session(token: str, expires: int) -> str:
    mac = hmac.new(token.encode(), f"operator {expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def _valid(token: str, cookie: str | None) -> bool:
    expires, _, _mac = (cookie or "").partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(_session(token, int(expires)), cookie or "")


def _when(at_ms: object) -> str:
    if not isinstance(at_ms, int):
        return _("Never")
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _table(heads: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th scope=\"col\">{html.escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(body: str) -> str:
    return (f"<!doctype html><html lang=\"{i18n.current_language()}\"><head>"
            f"<meta charset=\"utf-8\"><title>{html.escape(_('Relay operator'))}</title></head>"
            f"<body><h1>{html.escape(_('Relay operator'))}</h1>{body}</body></html>")


class OperatorPage:
    """The operator's page and its login."""

    def __init__(self, server: RelayServer) -> None:
        self._server = server
        self._token = operator_token(server.options.data_dir)

    def add_routes(self, app: web.Application) -> None:
        """The page and its login form."""
        app.router.add_get(PAGE, self._show)
        app.router.add_post(PAGE + "/login", self._login)

    async def _show(self, request: web.Request) -> web.Response:
        with i18n.speaking(i18n.best_language(request.headers.get("Accept-Language"))):
            if not _valid(self._token, request.cookies.get(COOKIE)):
                return self._login_form(status=200)
            return web.Response(text=_page(await self._overview()), content_type="text/html")

    def _login_form(self, status: int, wrong: bool = False) -> web.Response:
        warning = f"<p role=\"alert\">{html.escape(_('Wrong operator token.'))}</p>" if wrong \
            else ""
        form = (f"{warning}<form method=\"post\" action=\"{PAGE}/login\">"
                f"<label for=\"f-token\">{html.escape(_('Operator token'))}</label> "
                "<input id=\"f-token\" name=\"token\" type=\"password\" "
                "autocomplete=\"current-password\"> "
                f"<button type=\"submit\">{html.escape(_('Log in'))}</button></form>")
        return web.Response(text=_page(form), content_type="text/html", status=status)

    async def _login(self, request: web.Request) -> web.Response:
        with i18n.speaking(i18n.best_language(request.headers.get("Accept-Language"))):
            form = await request.post()
            given = form.get("token")
            if not isinstance(given, str) or not hmac.compare_digest(given.strip().encode(),
                                                                     self._token.encode()):
                await asyncio.sleep(1.0)  # slows guessing; the token has 192 bits anyway
                return self._login_form(status=403, wrong=True)
        response = web.HTTPSeeOther(PAGE)
        response.set_cookie(COOKIE, _session(self._token, int(time.time()) + SESSION_S),
                            max_age=SESSION_S, httponly=True, secure=True, samesite="Strict",
                            path="/relay/")
        raise response

    async def _overview(self) -> str:
        registry = self._server.registry
        clinics: list[dict[str, Any]] = [
            c.as_status() for c in await asyncio.to_thread(registry.clinics)]
        names = {c["id"]: c["name"] for c in clinics}
        rows = [[c["name"], _when(c["last_contact_ms"]), str(c["charts"]),
                 ", ".join(d["name"] for d in c["devices"]) or "—", str(c["errors"])
                 + (f" ({c['last_error']})" if c["last_error"] else ""),
                 _("Revoked") if c["revoked"] else _("Active")] for c in clinics]
        audit = [[_when(a["at_ms"]), names.get(a["clinic_id"], a["clinic_id"]), a["action"],
                  ", ".join(f"{k}: {v}" for k, v in sorted(a["detail"].items()))]
                 for a in await asyncio.to_thread(registry.audit_rows, 100)]
        return (f"<h2>{html.escape(_('Clinics'))}</h2>"
                + _table([_("Clinic"), _("Last contact"), _("Charts"), _("Linked devices"),
                          _("Errors"), _("State")], rows)
                + f"<h2>{html.escape(_('Cross-clinic access'))}</h2>"
                + _table([_("When"), _("Clinic"), _("Action"), _("Detail")], audit)
                + _tiers(await asyncio.to_thread(tier_status, registry)))


def _tiers(found: dict[str, Any]) -> str:
    """The upstream link and the downstream relays, where there are any."""
    states = {"connected": _("Connected"), "connecting": _("Connecting"),
              "unreachable": _("Unreachable")}
    shown = ""
    upstream = found["upstream"]
    if upstream is not None:
        rows = [[str(r["clinic"]), states.get(r["state"], r["state"]),
                 _when(r["last_contact_ms"]), str(r["backlog"])] for r in upstream["clinics"]]
        shown += (f"<h2>{html.escape(_('Upstream relay'))}</h2>"
                  f"<p><code>{html.escape(upstream['url'])}</code> "
                  f"{html.escape(states.get(upstream['state'], upstream['state']))}</p>"
                  + _table([_("Clinic"), _("State"), _("Last contact"), _("Backlog")], rows))
    if found["downstreams"]:
        rows = [[d["name"], ", ".join(d["clinics"]) or "—",
                 _("Revoked") if d["revoked"] else _("Active")] for d in found["downstreams"]]
        shown += (f"<h2>{html.escape(_('Downstream relays'))}</h2>"
                  + _table([_("Relay"), _("Clinics"), _("State")], rows))
    return shown
