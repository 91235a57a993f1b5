"""First-run set-up, login with name + PIN, lock screen, logout, language choice, home."""

from __future__ import annotations

import secrets

from aiohttp import web

from crdt_model.errors import ClinicMeshError
from ui import i18n
from ui.auth import (
    async_check_pin,
    async_hash_pin,
    is_keyed,
    pin_is_acceptable,
    pin_is_outdated,
)
from ui.forms import Errors, error_message, posted_text, text_value
from ui.i18n import gettext as _
from ui.records import User
from ui.web import (
    END_SESSION,
    FACILITY,
    NEW_SESSION,
    SESSION,
    redirect,
    render,
    safe_next,
    service,
    session,
    state,
    user,
)

routes = web.RouteTableDef()
_decoy: list[str] = []


async def _decoy_hash() -> str:
    if not _decoy:
        _decoy.append(await async_hash_pin(secrets.token_hex(8)))
    return _decoy[0]


def _pin_errors(form: dict[str, str], errors: Errors) -> str:
    pin = text_value(form, "pin")
    if not pin_is_acceptable(pin):
        errors["pin"] = _("The PIN must be 6 to 8 digits.")
    elif pin != text_value(form, "pin_again"):
        errors["pin_again"] = _("The two PINs are not the same.")
    return pin


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    """Each role starts where its work is."""
    roles = user(request).roles
    if roles == ("lab",):
        raise redirect("/lab")
    if roles == ("pharmacy",):
        raise redirect("/pharmacy")
    raise redirect("/queue")


@routes.get("/setup")
async def setup_form(request: web.Request) -> web.StreamResponse:
    """First run: name the facility and create the administrator."""
    if request.get(FACILITY) is not None:
        raise redirect("/login")
    return render(request, "setup.html", form={}, errors={})


@routes.post("/setup")
async def setup_post(request: web.Request) -> web.StreamResponse:
    """Create the facility and the first admin, then log them in."""
    if request.get(FACILITY) is not None:
        raise redirect("/login")
    form = await posted_text(request)
    errors: Errors = {}
    facility_name, name = text_value(form, "facility_name"), text_value(form, "name")
    if not facility_name:
        errors["facility_name"] = _("Please write the name of the clinic.")
    if not name:
        errors["name"] = _("Please write your name.")
    pin = _pin_errors(form, errors)
    if errors:
        return render(request, "setup.html", status=400, form=form, errors=errors)
    language = i18n.current_language()
    try:
        admin = await service(request).set_up_facility(
            facility_name, name, await async_hash_pin(pin, state(request).pin_key), language
        )
    except ClinicMeshError as exc:
        field, message = error_message(exc)
        return render(request, "setup.html", status=400, form=form, errors={field: message})
    _log_in(request, admin)
    raise redirect("/users")


def _log_in(request: web.Request, who: User) -> None:
    ui = state(request)
    request[SESSION] = ui.sessions.log_in(session(request), who.id, who.language)
    request[NEW_SESSION] = True


@routes.get("/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    """Name and PIN."""
    return render(request, "login.html", form={}, errors={}, next=request.query.get("next", ""))


@routes.post("/login")
async def login_post(request: web.Request) -> web.StreamResponse:
    """Check the PIN; five wrong PINs lock the name for a while."""
    ui = state(request)
    form = await posted_text(request)
    name, pin = text_value(form, "name"), text_value(form, "pin")
    target = safe_next(form.get("next"))
    wait_s = ui.lockouts.reserve(name)  # counted before the check: concurrency can't help
    if wait_s > 0:
        message = _("Too many wrong PINs. Try again in %(time)s.") % {
            "time": i18n.fmt_duration(wait_s)
        }
        return render(request, "login.html", status=429, form={"name": name},
                      errors={"pin": message}, next=target)
    match = next(
        (u for u in await service(request).users()
         if u.active and u.name.casefold() == name.casefold()),
        None,
    )
    # An unknown name costs the same scrypt as a known one, so timing does not reveal names.
    stored = match.pin_hash if match is not None else await _decoy_hash()
    if not await async_check_pin(pin, stored, ui.pin_key) or match is None:
        ui.lockouts.wrong(name)
        return render(request, "login.html", status=401, form={"name": name},
                      errors={"pin": _("This name and PIN do not match.")}, next=target)
    ui.lockouts.right(name)
    if ui.pin_key and not is_keyed(stored) and not pin_is_outdated(pin):
        # A hash from before keying: re-made now, so the directory stops holding a searchable one.
        await service(request).set_user_pin(match.id, await async_hash_pin(pin, ui.pin_key),
                                            by=match.id)
    _log_in(request, match)
    if pin_is_outdated(pin):
        request[SESSION].must_change_pin = True
        raise redirect("/pin")
    raise redirect(target)


@routes.get("/pin")
async def new_pin_form(request: web.Request) -> web.StreamResponse:
    """A user whose PIN is shorter than PINs now must be chooses a new one."""
    return render(request, "new_pin.html", errors={})


@routes.post("/pin")
async def new_pin_post(request: web.Request) -> web.StreamResponse:
    """Store the new PIN; only then may the user go on."""
    who, sess = user(request), session(request)
    form = await posted_text(request)
    errors: Errors = {}
    pin = _pin_errors(form, errors)
    if errors:
        return render(request, "new_pin.html", status=400, errors=errors)
    await service(request).set_user_pin(who.id, await async_hash_pin(pin, state(request).pin_key),
                                        by=who.id)
    sess.must_change_pin = False
    raise redirect("/")


@routes.get("/lock")
async def lock_form(request: web.Request) -> web.StreamResponse:
    """The lock screen: the same user types their PIN to go on, or logs out."""
    return render(request, "lock.html", errors={})


@routes.post("/lock")
async def lock_post(request: web.Request) -> web.StreamResponse:
    """Unlock with the PIN (wrong PINs count towards the lock-out)."""
    ui, who, sess = state(request), user(request), session(request)
    form = await request.post()
    pin = form.get("pin")
    if ui.lockouts.reserve(who.name) > 0:
        ui.sessions.log_out(sess)
        request[END_SESSION] = True
        raise redirect("/login")
    if not isinstance(pin, str) or not await async_check_pin(pin.strip(), who.pin_hash,
                                                             ui.pin_key):
        ui.lockouts.wrong(who.name)
        return render(request, "lock.html", status=401,
                      errors={"pin": _("This PIN is not right.")})
    ui.lockouts.right(who.name)
    sess.locked = False
    ui.sessions.touch(sess)
    raise redirect("/")


@routes.post("/lock/now")
async def lock_now(request: web.Request) -> web.StreamResponse:
    """Lock the screen at once (the user steps away)."""
    session(request).locked = True
    raise redirect("/lock")


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    state(request).sessions.log_out(session(request))
    request[END_SESSION] = True
    raise redirect("/login")


@routes.post("/language")
async def choose_language(request: web.Request) -> web.StreamResponse:
    """Switch language; remembered for the user when someone is logged in."""
    form = await request.post()
    language = form.get("language")
    if not isinstance(language, str) or language not in i18n.LANGUAGES:
        raise redirect("/")
    sess = session(request)
    sess.language = language
    if sess.user_id and not sess.locked:
        await service(request).set_user_language(sess.user_id, language, by=sess.user_id)
    back = form.get("back")
    raise redirect(safe_next(back if isinstance(back, str) else None))
