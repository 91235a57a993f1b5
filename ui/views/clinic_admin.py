"""Users (admin), the review queue of concurrent critical edits, and the sync page."""

from __future__ import annotations

from aiohttp import web

from crdt_model.errors import ClinicMeshError, ConflictError, NotFound
from ui import i18n
from ui.auth import async_hash_pin, pin_is_acceptable
from ui.forms import Errors, error_message, posted_text, text_value
from ui.i18n import gettext as _
from ui.records import ROLES, BackupInfo, SyncStatus
from ui.web import now_ms, redirect, render, require, service, state

routes = web.RouteTableDef()
# A peer heard from within this long counts as "recent" on the sync page.
RECENT_CONTACT_S = 120
MIN_BACKUP_PASSPHRASE_CHARS = 10


async def _users_page(request: web.Request, form: dict[str, object], errors: Errors,
                      status: int = 200) -> web.Response:
    return render(request, "users.html", status=status, users=await service(request).users(),
                  roles=ROLES, form=form, errors=errors)


@routes.get("/users")
async def users(request: web.Request) -> web.StreamResponse:
    """Everyone who may log in on this clinic's devices."""
    require(request, "users")
    return await _users_page(request, {}, {})


@routes.post("/users")
async def add_user(request: web.Request) -> web.StreamResponse:
    """Add a user with roles and a first PIN."""
    who = require(request, "users")
    posted = await request.post()
    roles = tuple(r for r in posted.getall("roles", []) if isinstance(r, str) and r in ROLES)
    form: dict[str, object] = {k: v for k, v in posted.items() if isinstance(v, str)}
    form["roles"] = roles
    errors: Errors = {}
    name, pin = text_value(form, "name"), text_value(form, "pin")
    language = text_value(form, "language")
    if not name:
        errors["name"] = _("Please write a name.")
    if not roles:
        errors["roles"] = _("Choose at least one role.")
    if not pin_is_acceptable(pin):
        errors["pin"] = _("The PIN must be 6 to 8 digits.")
    if errors:
        return await _users_page(request, form, errors, 400)
    try:
        await service(request).add_user(
            name, roles, await async_hash_pin(pin, state(request).pin_key),
            language if language in i18n.LANGUAGES else None,
            by=who.id,
        )
    except ClinicMeshError as exc:
        field, message = error_message(exc)
        return await _users_page(request, form, {field: message}, 400)
    raise redirect("/users")


@routes.post("/users/{user_id}/pin")
async def reset_pin(request: web.Request) -> web.StreamResponse:
    """Give a user a new PIN (they forgot theirs)."""
    who = require(request, "users")
    form = await posted_text(request)
    user_id, pin = request.match_info["user_id"], text_value(form, "pin")
    if not any(u.id == user_id for u in await service(request).users()):
        raise web.HTTPNotFound()
    if not pin_is_acceptable(pin):
        return await _users_page(request, {}, {
            f"pin:{user_id}": _("The PIN must be 6 to 8 digits.")}, 400)
    pin_hash = await async_hash_pin(pin, state(request).pin_key)
    await service(request).set_user_pin(user_id, pin_hash, by=who.id)
    raise redirect("/users")


@routes.post("/users/{user_id}/change")
async def change_user(request: web.Request) -> web.StreamResponse:
    """Change a user's roles and language, or disable or enable them."""
    who = require(request, "users")
    user_id = request.match_info["user_id"]
    if not any(u.id == user_id for u in await service(request).users()):
        raise web.HTTPNotFound()
    posted = await request.post()
    action = posted.get("action")
    changes: dict[str, object]
    if action in ("disable", "enable"):
        changes = {"disabled": action == "disable"}
    else:
        roles = [r for r in posted.getall("roles", []) if isinstance(r, str) and r in ROLES]
        if not roles:
            return await _users_page(request, {}, {
                f"change:{user_id}": _("Choose at least one role.")}, 400)
        changes = {"roles": roles}
        language = posted.get("language")
        if isinstance(language, str) and language in i18n.LANGUAGES:
            changes["language"] = language
    try:
        await service(request).change_user(user_id, changes, by=who.id)
    except ConflictError:
        message = _("The clinic needs another administrator who can log in first.")
        return await _users_page(request, {}, {f"change:{user_id}": message}, 400)
    except ClinicMeshError as exc:
        message = (_("You can't disable yourself.") if exc.field == "disabled"
                   else error_message(exc)[1])
        return await _users_page(request, {}, {f"change:{user_id}": message}, 400)
    raise redirect("/users")


@routes.get("/review")
async def review(request: web.Request) -> web.StreamResponse:
    """Concurrent edits of critical fields, side by side."""
    require(request, "review")
    return render(request, "review.html", items=await service(request).review_items(),
                  errors={})


@routes.post("/review/{item_id}")
async def resolve(request: web.Request) -> web.StreamResponse:
    """Keep one value; who chose it and why is recorded."""
    who = require(request, "review")
    form = await request.post()
    value, note = form.get("value"), form.get("note")
    item_id = request.match_info["item_id"]
    if not isinstance(value, str) or not isinstance(note, str) or not note.strip():
        return render(request, "review.html", status=400,
                      items=await service(request).review_items(),
                      errors={item_id: _("Choose a value and write why.")})
    try:
        await service(request).resolve_review(item_id, value, note.strip(), by=who.id)
    except NotFound:
        pass  # resolved meanwhile on another device: the list below shows what is left
    raise redirect("/review")


def offline_seconds(status: SyncStatus, now: int) -> float | None:
    """How long this device has been without any peer or relay, or None when connected."""
    if status.offline_since_ms is None:
        return None
    return max(0.0, (now - status.offline_since_ms) / 1000)


@routes.get("/sync")
async def sync(request: web.Request) -> web.StreamResponse:
    """Peers, last contact, pending changes, relay state, in plain words; backups (admin)."""
    require(request, "sync")
    return await _sync_page(request, {}, {})


async def _sync_page(request: web.Request, form: dict[str, str], errors: Errors,
                     status_code: int = 200, done: BackupInfo | None = None,
                     linked: str | None = None) -> web.Response:
    status = await service(request).sync_status()
    now = now_ms(request)
    return render(request, "sync.html", status=status_code, sync_state=status, now=now,
                  offline_s=offline_seconds(status, now), recent_s=RECENT_CONTACT_S,
                  last_backup=await service(request).last_backup(), backup_done=done,
                  form=form, errors=errors, relay_linked=linked)


@routes.post("/relay-link")
async def link_relay(request: web.Request) -> web.StreamResponse:
    """Link the clinic to the central relay with the credential file its operator gave."""
    who = require(request, "users")
    form = await posted_text(request)
    credential = text_value(form, "credential")
    if not credential:
        return await _sync_page(request, form, {
            "credential": _("Please paste the text of the relay's credential file.")}, 400)
    try:
        url = await service(request).link_relay(credential, by=who.id)
    except ClinicMeshError:
        return await _sync_page(request, form, {
            "credential": _("This is not a relay credential. Paste the whole file.")}, 400)
    return await _sync_page(request, {}, {}, linked=url)


@routes.post("/backup")
async def back_up(request: web.Request) -> web.StreamResponse:
    """Write an encrypted backup of this device into a folder (a USB stick)."""
    who = require(request, "users")
    form = await posted_text(request)
    folder, secret = text_value(form, "folder"), form.get("backup_passphrase", "")
    errors: Errors = {}
    if not folder:
        errors["folder"] = _("Please write the folder to save the backup in.")
    if len(secret) < MIN_BACKUP_PASSPHRASE_CHARS:
        errors["backup_passphrase"] = _("The backup passphrase needs at least 10 characters.")
    elif secret != form.get("backup_passphrase_again", ""):
        errors["backup_passphrase_again"] = _("The two passphrases are not the same.")
    if errors:
        return await _sync_page(request, {"folder": folder}, errors, 400)
    try:
        done = await service(request).back_up(folder, secret, by=who.id)
    except ClinicMeshError as exc:
        return await _sync_page(request, {"folder": folder}, {"folder": str(exc.message)}, 400)
    return await _sync_page(request, {}, {}, done=done)
