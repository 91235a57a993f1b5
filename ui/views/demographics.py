"""Correcting a patient's demographics and merging a duplicate chart into the surviving one.

The edit form sends only the fields the user changed (each form remembers the value it
showed), so a field another device changed meanwhile is not overwritten by a stale copy;
concurrent changes of a critical field reach the review queue as they do from any door.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crdt_model.errors import ClinicMeshError, ConflictError, NotFound
from ui.forms import Errors, error_message, posted_text, text_value
from ui.i18n import gettext as _
from ui.records import Chart, PatientSummary
from ui.views.patients import patient_id_of
from ui.web import redirect, render, require, service

routes = web.RouteTableDef()
FIELDS = ("given_name", "family_name", "sex", "birth_date", "phone", "village", "national_id",
          "clinic_id")
KIN = ("name", "relation", "phone")
SEARCH_LIMIT = 10


def shown_values(patient: PatientSummary) -> dict[str, str]:
    """The form's fields as the chart shows them (`kin_*` for the next of kin)."""
    values = {k: str(getattr(patient, k) or "") for k in FIELDS}
    kin = patient.next_of_kin or {}
    values.update({f"kin_{k}": kin.get(k, "") for k in KIN})
    return values


def changed_fields(form: dict[str, str]) -> dict[str, Any]:
    """The fields whose posted value differs from the value the form showed (`was_*`); the
    next of kin is one field, sent whole when any of its parts changed."""
    changes: dict[str, Any] = {
        k: text_value(form, k) for k in FIELDS
        if text_value(form, k) != text_value(form, f"was_{k}") and text_value(form, k)
    }
    if any(text_value(form, f"kin_{k}") != text_value(form, f"was_kin_{k}") for k in KIN):
        kin = {k: text_value(form, f"kin_{k}") for k in KIN}
        changes["next_of_kin"] = {k: v for k, v in kin.items() if v}
    return changes


async def _chart(request: web.Request, patient_id: str, by: str) -> Chart:
    try:
        return await service(request).get_chart(patient_id, by=by)
    except NotFound:
        raise web.HTTPNotFound() from None


@routes.get("/patients/{patient_id}/edit")
async def edit_form(request: web.Request) -> web.StreamResponse:
    """The patient's details, ready to correct."""
    who = require(request, "register")
    chart = await _chart(request, patient_id_of(request), who.id)
    shown = shown_values(chart.patient)
    notice = next((n for n in ("saved", "merged") if request.query.get(n)), None)
    return render(request, "edit_patient.html", chart=chart, form=shown, was=shown, errors={},
                  notice=notice)


@routes.post("/patients/{patient_id}/edit")
async def edit(request: web.Request) -> web.StreamResponse:
    """Write what changed; nothing is saved when a value is refused."""
    who = require(request, "register")
    patient_id = patient_id_of(request)
    form = await posted_text(request)
    changes = changed_fields(form)
    errors: Errors = {}
    if changes.get("next_of_kin") and not changes["next_of_kin"].get("name"):
        errors["kin_name"] = _("Please write the name of the next of kin.")
    if not errors and changes:
        try:
            await service(request).update_demographics(patient_id, changes, by=who.id)
        except ClinicMeshError as exc:
            field, message = error_message(exc)
            errors[field.replace("next_of_kin.", "kin_")] = message
    if errors:
        chart = await _chart(request, patient_id, who.id)
        was = {k.removeprefix("was_"): v for k, v in form.items() if k.startswith("was_")}
        return render(request, "edit_patient.html", status=400, chart=chart, form=form,
                      was=was, errors=errors, notice=None)
    raise redirect(f"/patients/{patient_id}/edit?saved=1")


@routes.get("/patients/{patient_id}/merge")
async def merge_search(request: web.Request) -> web.StreamResponse:
    """Find the chart this one duplicates."""
    who = require(request, "register")
    chart = await _chart(request, patient_id_of(request), who.id)
    query = request.query.get("q", "").strip()[:100]
    found = await service(request).search_patients(query, SEARCH_LIMIT) if query else []
    others = [p for p in found if p.id != chart.patient.id and not p.merged_into]
    return render(request, "merge.html", chart=chart, q=query, results=others, other=None,
                  errors={})


@routes.get("/patients/{patient_id}/merge/{survivor_id}")
async def merge_compare(request: web.Request) -> web.StreamResponse:
    """Both charts side by side before the merge."""
    who = require(request, "register")
    chart = await _chart(request, patient_id_of(request), who.id)
    other = await _chart(request, patient_id_of(request, "survivor_id"), who.id)
    return render(request, "merge.html", chart=chart, other=other, q="", results=[], errors={})


@routes.post("/patients/{patient_id}/merge/{survivor_id}")
async def merge(request: web.Request) -> web.StreamResponse:
    """Merge this chart into the surviving one: both keep every entry, linked."""
    who = require(request, "register")
    patient_id, survivor_id = patient_id_of(request), patient_id_of(request, "survivor_id")
    try:
        await service(request).link_duplicate(patient_id, survivor_id, by=who.id)
    except ConflictError:
        chart = await _chart(request, patient_id, who.id)
        other = await _chart(request, survivor_id, who.id)
        return render(request, "merge.html", status=409, chart=chart, other=other, q="",
                      results=[], errors={"merge": _("One of these charts is merged already.")})
    except NotFound:
        raise web.HTTPNotFound() from None
    raise redirect(f"/patients/{survivor_id}/edit?merged=1")
