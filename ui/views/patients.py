"""Registration: search first (tolerant of spelling), likely duplicates before creating, the
printable patient card with a QR code, and checking a patient in for today's queue."""

from __future__ import annotations

from typing import Any

import segno
from aiohttp import web

from crdt_model import validate
from crdt_model.access import may
from crdt_model.attachments import MAX_ATTACHMENT_BYTES, image_type
from crdt_model.errors import ClinicMeshError, NotFound, ValidationError
from crdt_model.ids import check_uuid
from ui.forms import (
    Errors,
    also_checked,
    error_message,
    error_messages,
    number_value,
    posted_text,
    text_value,
)
from ui.other_clinics import OtherPatient
from ui.upload import Upload, too_big_message
from ui.web import UPLOAD, redirect, render, require, service, svg, today

routes = web.RouteTableDef()
SEARCH_LIMIT = 20
FIELDS = ("given_name", "family_name", "sex", "birth_date", "age_years", "phone", "village",
          "national_id")


def patient_id_of(request: web.Request, name: str = "patient_id") -> str:
    """The patient id of the URL (its part `name`), or 404."""
    try:
        return check_uuid(request.match_info[name])
    except ClinicMeshError:
        raise web.HTTPNotFound() from None


@routes.get("/patients")
async def search(request: web.Request) -> web.StreamResponse:
    """Search by name, phone, id or village."""
    require(request, "register")
    query = request.query.get("q", "").strip()[:100]
    results = await service(request).search_patients(query, SEARCH_LIMIT) if query else []
    waiting = {q.patient_id: q.station for q in await service(request).queue_today(today(request))
               if q.station != "done"} if results else {}
    # A patient who presents here first may have a chart in another clinic (the relay).
    elsewhere = bool(query) and (await service(request).sync_status()).relay is not None
    return render(request, "patients.html", q=query, results=results, waiting=waiting,
                  other_clinics=elsewhere)


def _demographics(form: dict[str, str], errors: Errors) -> dict[str, Any]:
    data: dict[str, Any] = {key: text_value(form, key) or None for key in FIELDS}
    data["given_name"] = data["given_name"] or ""
    data["family_name"] = data["family_name"] or ""
    age = number_value(form, "age_years", errors)
    del data["age_years"]
    if age is not None:
        data["estimated_age_years"] = age
    return data


def _on_form(errors: Errors) -> Errors:
    """The core's fields as the form names them (the age is `age_years`)."""
    found = {"age_years" if k == "estimated_age_years" else k: v for k, v in errors.items()}
    if "age_years" in found:  # an age that could not be read is the birth date's only problem
        found.pop("birth_date", None)
    return found


@routes.get("/patients/new")
async def new_form(request: web.Request) -> web.StreamResponse:
    """An empty registration form, prefilled from the search words."""
    require(request, "register")
    words = request.query.get("q", "").split()
    form = {"given_name": words[0] if words else "", "family_name": " ".join(words[1:])}
    return render(request, "register.html", form=form, errors={}, duplicates=[])


async def _posted(request: web.Request, errors: Errors) -> tuple[dict[str, str],
                                                                   tuple[bytes, str] | None]:
    """The registration form's fields and its photo (bytes, file name) when one was taken;
    a photo that is not an image or is over the limit is a form error."""
    if request.get(UPLOAD) is None:  # a form without a file input (scripts, older pages)
        return await posted_text(request), None
    sent = Upload("photo")
    await sent.read(request)
    if not sent.size:
        return sent.fields, None
    if sent.size > MAX_ATTACHMENT_BYTES:
        errors["photo"] = too_big_message(sent.size)
    elif image_type(sent.data) is None:
        errors["photo"] = error_message(ValidationError("not an image", field="photo"))[1]
    return sent.fields, (sent.data, sent.name)


@routes.post("/patients/new")
async def register(request: web.Request) -> web.StreamResponse:
    """Check the form, show likely duplicates once, then create the chart (with its photo)
    and check in."""
    who = require(request, "register")
    errors: Errors = {}
    form, photo = await _posted(request, errors)
    data = _demographics(form, errors)
    demographics = {k: v for k, v in data.items() if v is not None}
    if photo is not None and not may(who.roles, "attach"):
        photo = None  # the field is not shown to those who may not add photos
    if errors:
        errors = also_checked(errors, lambda: validate.registration(demographics, today(request)))
        return render(request, "register.html", status=400, form=form, errors=_on_form(errors),
                      duplicates=[])
    svc = service(request)
    try:
        if not form.get("confirm_new"):
            duplicates = await svc.likely_duplicates(demographics, today(request))
            if duplicates:
                return render(request, "register.html", form=form, errors={},
                              duplicates=duplicates, photo_again=photo is not None)
        patient_id = await svc.admit_patient(demographics, today(request), by=who.id,
                                             photo=photo)
    except ClinicMeshError as exc:
        return render(request, "register.html", status=400, form=form, duplicates=[],
                      errors=_on_form(error_messages(exc)))
    raise redirect(f"/patients/{patient_id}/card?new=1")


@routes.post("/patients/{patient_id}/check-in")
async def check_in(request: web.Request) -> web.StreamResponse:
    """Put a known patient in today's queue (for triage)."""
    who = require(request, "register")
    patient_id = patient_id_of(request)
    try:
        await service(request).check_in(patient_id, today(request), by=who.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    raise redirect("/queue")


@routes.get("/patients/{patient_id}/card")
async def card(request: web.Request) -> web.StreamResponse:
    """A printable card: name, birth date, id and a QR code of the id."""
    who = require(request, "register")
    patient_id = patient_id_of(request)
    try:
        chart = await service(request).get_chart(patient_id, by=who.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    qr = segno.make(patient_id, error="m").svg_inline(scale=4, border=2, dark="#000")
    photos = [e for e in chart.of_kind("attachment") if e.data.get("purpose") == "photo"]
    return render(request, "card.html", patient=chart.patient, qr=svg(qr),
                  new=request.query.get("new") == "1", photo=photos[-1] if photos else None)


@routes.get("/patients/other")
async def other_clinics(request: web.Request) -> web.StreamResponse:
    """Search the other clinics on the central relay (a patient who presents here first)."""
    who = require(request, "register")
    query = request.query.get("q", "").strip()[:100]
    results: tuple[OtherPatient, ...] = ()
    failed = upstream_down = False
    if query:
        try:
            found = await service(request).search_other_clinics(query, by=who.id)
            results, upstream_down = found.patients, found.upstream_unreachable
        except ClinicMeshError:
            failed = True
    return render(request, "other_clinics.html", q=query, results=results, failed=failed,
                  on_its_way=False, upstream_down=upstream_down)


@routes.post("/patients/{patient_id}/bring")
async def bring_here(request: web.Request) -> web.StreamResponse:
    """Bring another clinic's chart into this clinic, then open it."""
    who = require(request, "register")
    patient_id = patient_id_of(request)
    try:
        here = await service(request).bring_chart_here(patient_id, by=who.id)
    except ClinicMeshError:
        return render(request, "other_clinics.html", status=503, q="", results=[],
                      failed=True, on_its_way=False)
    if here:
        raise redirect(f"/patients/{patient_id}")
    return render(request, "other_clinics.html", q="", results=[], failed=False,
                  on_its_way=True)
