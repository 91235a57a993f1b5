"""The consultation's forms (structured sections with a follow-up day, a referral) and the
printable referral letter."""

from __future__ import annotations

from aiohttp import web

from crdt_model.errors import ClinicMeshError, NotFound
from ui.forms import error_messages, posted_text, text_value
from ui.views.consult import chart_page, latest_vitals
from ui.views.patients import patient_id_of
from ui.visits import referral_visit
from ui.web import redirect, render, require, service

routes = web.RouteTableDef()
SECTIONS = ("presenting_complaint", "history", "examination", "plan")


@routes.post("/patients/{patient_id}/consultation")
async def consultation(request: web.Request) -> web.StreamResponse:
    """Record the consultation's sections (and a follow-up day) in today's visit."""
    who = require(request, "consult")
    patient_id = patient_id_of(request)
    form = await posted_text(request)
    sections = {k: text_value(form, k) for k in (*SECTIONS, "follow_up") if text_value(form, k)}
    try:
        await service(request).record_consultation(patient_id, sections, by=who.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    except ClinicMeshError as exc:
        return await chart_page(request, patient_id, error_messages(exc), form, status=400)
    raise redirect(f"/patients/{patient_id}#visits")


@routes.post("/patients/{patient_id}/referrals")
async def refer(request: web.Request) -> web.StreamResponse:
    """Record a referral, then show its letter, ready to print."""
    who = require(request, "consult")
    patient_id = patient_id_of(request)
    form = await posted_text(request)
    referral = {k: text_value(form, k) for k in ("to", "reason")}
    try:
        referral_id = await service(request).refer(patient_id, referral, by=who.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    except ClinicMeshError as exc:
        return await chart_page(request, patient_id, error_messages(exc), form, status=400)
    raise redirect(f"/patients/{patient_id}/referrals/{referral_id}")


@routes.get("/patients/{patient_id}/referrals/{referral_id}")
async def letter(request: web.Request) -> web.StreamResponse:
    """The referral letter: the patient, why and where, the consultation, diagnoses,
    medicines, allergies and the last vital signs; printed on paper (print CSS)."""
    who = require(request, "read_chart")
    patient_id = patient_id_of(request)
    try:
        chart = await service(request).get_chart(patient_id, by=who.id)
        referral, visit = referral_visit(chart, request.match_info["referral_id"])
    except (NotFound, StopIteration):
        raise web.HTTPNotFound() from None
    return render(request, "referral.html", chart=chart, referral=referral, visit=visit,
                  latest=latest_vitals(chart), allergies=chart.of_kind("allergy"))
