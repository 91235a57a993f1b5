"""Triage: vitals with units and ranges, danger signs, category; then on to consultation."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crdt_model import rules
from crdt_model.errors import ClinicMeshError, NotFound
from ui.clinical import VITALS
from ui.forms import Errors, also_checked, error_messages, number_value, text_value
from ui.views.patients import patient_id_of
from ui.web import redirect, render, require, service, user

routes = web.RouteTableDef()
# The encounter a triage is checked against when only its errors are wanted (nothing is stored).
CHECK_ONLY = "00000000-0000-4000-8000-000000000000"


async def _page(request: web.Request, patient_id: str, form: dict[str, Any], errors: Errors,
                status: int = 200) -> web.Response:
    try:
        chart = await service(request).get_chart(patient_id, by=user(request).id)
    except NotFound:
        raise web.HTTPNotFound() from None
    return render(request, "triage.html", status=status, chart=chart, form=form, errors=errors,
                  vitals=VITALS, signs=form.get("danger_signs", []))


@routes.get("/patients/{patient_id}/triage")
async def triage_form(request: web.Request) -> web.StreamResponse:
    """The triage form."""
    require(request, "triage")
    return await _page(request, patient_id_of(request), {}, {})


@routes.post("/patients/{patient_id}/triage")
async def triage_post(request: web.Request) -> web.StreamResponse:
    """Store the triage (the core checks the patient in and sends them to consultation)."""
    who = require(request, "triage")
    patient_id = patient_id_of(request)
    posted = await request.post()
    form: dict[str, Any] = {k: v for k, v in posted.items() if isinstance(v, str)}
    form["danger_signs"] = [s for s in posted.getall("danger_signs", []) if isinstance(s, str)]
    errors: Errors = {}
    measured = {v.key: number_value(form, v.key, errors) for v in VITALS}
    triage: dict[str, Any] = {
        "category": text_value(form, "category") or None,
        "vitals": {k: v for k, v in measured.items() if v is not None},
        "danger_signs": form["danger_signs"],
    }
    if text_value(form, "note"):
        triage["note"] = text_value(form, "note")
    if errors:  # numbers that could not be read: the clinic's rules check the rest
        errors = also_checked(errors, lambda: rules.triage_entry(
            {**triage, "encounter_id": CHECK_ONLY, "vitals": triage["vitals"] or None}))
        errors.pop("vitals", None)
        return await _page(request, patient_id, form, errors, status=400)
    try:
        await service(request).record_triage(patient_id, triage, by=who.id)
    except ClinicMeshError as exc:
        return await _page(request, patient_id, form, error_messages(exc), status=400)
    raise redirect("/queue")
