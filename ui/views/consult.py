"""The chart and consultation: allergy banner, problems, medicines, vitals trend, notes,
ICD-10 diagnoses, prescriptions (with allergy warning), lab orders, voids, chart history."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from crdt_model.allergies import ALLERGY_CLASSES
from crdt_model.errors import AllergyConflict, ClinicMeshError, NotFound
from ui import icd10
from ui.charts import trend
from ui.clinical import LAB_TESTS, VITALS, allergen
from ui.forms import Errors, error_message, int_value, number_value, posted_text, text_value
from ui.history import sentence
from ui.i18n import gettext as _
from ui.records import Chart, ChartEntry
from ui.views.patients import patient_id_of
from ui.visits import past_visits
from ui.web import age_months, redirect, render, require, service, today, user

routes = web.RouteTableDef()
TREND_POINTS = 10
# Below this age a dose in mg is shown per kg of the latest weight too (children's doses are
# weight-based).
CHILD_MONTHS = 12 * 12


def vital_series(chart: Chart) -> dict[str, list[tuple[int, float]]]:
    """(time, value) per vital sign from the triages, oldest first."""
    series: dict[str, list[tuple[int, float]]] = {}
    for entry in chart.of_kind("triage"):
        for key, value in dict(entry.data.get("vitals", {})).items():
            series.setdefault(key, []).append((entry.at_ms, float(value)))
    return series


def latest_vitals(chart: Chart) -> dict[str, tuple[ChartEntry, float]]:
    """Each vital sign's latest measure with the triage that took it (a later triage that did
    not measure it does not hide it)."""
    latest: dict[str, tuple[ChartEntry, float]] = {}
    for entry in chart.of_kind("triage"):
        for key, value in dict(entry.data.get("vitals", {})).items():
            latest[key] = (entry, float(value))
    return latest


def results_by_order(chart: Chart) -> dict[str, ChartEntry]:
    """The latest result of each lab order."""
    return {str(e.data["order_id"]): e for e in chart.of_kind("lab_result")}


async def chart_page(request: web.Request, patient_id: str, errors: Errors | None = None,
                     form: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    """The chart page with its forms (errors shown next to their fields)."""
    svc = service(request)
    try:
        chart = await svc.get_chart(patient_id, by=user(request).id)
    except NotFound:
        raise web.HTTPNotFound() from None
    series = vital_series(chart)
    latest = latest_vitals(chart)
    weighed = latest.get("weight_kg")
    child = bool(chart.patient.birth_date) and age_months(
        chart.patient.birth_date, today(request)) < CHILD_MONTHS
    dx_query = request.query.get("dx", "").strip()[:60]
    queued = [q for q in await svc.queue_today(today(request)) if q.patient_id == patient_id]
    return render(
        request, "chart.html", status=status, chart=chart, errors=errors or {}, form=form or {},
        series=series, vitals=VITALS, latest=latest,
        child_weight_kg=weighed[1] if weighed and child else None,
        triage_notes=[t for t in reversed(chart.of_kind("triage")) if t.data.get("note")],
        trends={k: trend([v for _, v in points[-TREND_POINTS:]]) for k, points in series.items()},
        dx_query=dx_query, dx_results=icd10.search(dx_query) if dx_query else [],
        stock=await svc.stock(), results=results_by_order(chart), lab_tests=LAB_TESTS,
        allergens=await svc.allergens(),
        queued=queued[0] if queued else None, visits=past_visits(chart),
        tomorrow=(date.fromisoformat(today(request)) + timedelta(days=1)).isoformat(),
    )


@routes.get("/patients/{patient_id}")
async def chart_view(request: web.Request) -> web.StreamResponse:
    """The chart summary and consultation forms."""
    require(request, "read_chart")
    return await chart_page(request, patient_id_of(request))


async def _post(request: web.Request) -> tuple[str, str, dict[str, str]]:
    who = require(request, "consult")
    return who.id, patient_id_of(request), await posted_text(request)


async def _store(request: web.Request, patient_id: str, form: dict[str, str], write: Any,
                 anchor: str) -> web.StreamResponse:
    try:
        await write
    except AllergyConflict as exc:  # the core refused: show the warning and ask for a reason
        form["allergy_warning"] = "1"
        return await chart_page(request, patient_id, {"drug": _(
            "Allergy warning: this patient is allergic to %(list)s. "
            "Choose another medicine, or write why you prescribe it anyway."
        ) % {"list": ", ".join(map(allergen, exc.substances))}}, form, status=400)
    except ClinicMeshError as exc:
        field, message = error_message(exc)
        return await chart_page(request, patient_id, {field: message}, form, status=400)
    raise redirect(f"/patients/{patient_id}#{anchor}")


@routes.post("/patients/{patient_id}/diagnoses")
async def add_diagnosis(request: web.Request) -> web.StreamResponse:
    """Add an ICD-10 diagnosis from the shipped list."""
    by, patient_id, form = await _post(request)
    code = icd10.lookup(text_value(form, "code"))
    if code is None:
        return await chart_page(request, patient_id, {"code": _(
            "Please choose a diagnosis from the list.")}, form, status=400)
    diagnosis = {"code": code.code, "label": code.label,
                 "certainty": text_value(form, "certainty") or "provisional"}
    return await _store(request, patient_id, form,
                        service(request).add_diagnosis(patient_id, diagnosis, by=by), "problems")


@routes.post("/patients/{patient_id}/notes")
async def add_note(request: web.Request) -> web.StreamResponse:
    """Add a consultation note."""
    by, patient_id, form = await _post(request)
    note = {"text": text_value(form, "text")}
    return await _store(request, patient_id, form,
                        service(request).add_note(patient_id, note, by=by), "notes")


@routes.post("/patients/{patient_id}/allergies")
async def add_allergy(request: web.Request) -> web.StreamResponse:
    """Record an allergy (nurses may too)."""
    who = require(request, "triage")
    patient_id = patient_id_of(request)
    form = await posted_text(request)
    chosen = text_value(form, "allergen")
    listed = {code: name for name, code in await service(request).allergens()}
    listed.update({code: name for code, (name, _words) in ALLERGY_CLASSES.items()})
    allergy = {"substance": listed.get(chosen) or text_value(form, "substance"),
               "severity": text_value(form, "severity") or "unknown"}
    if chosen in listed:
        allergy["atc"] = chosen
    if text_value(form, "reaction"):
        allergy["reaction"] = text_value(form, "reaction")
    return await _store(request, patient_id, form,
                        service(request).add_allergy(patient_id, allergy, by=who.id), "top")


def prescription_from(form: dict[str, str], stock_names: dict[str, str],
                      errors: Errors) -> dict[str, Any]:
    """The prescription entry a form describes (numbers parsed; errors collected)."""
    drug_id = text_value(form, "drug_id")
    data: dict[str, Any] = {
        "drug": stock_names.get(drug_id) or text_value(form, "drug"),
        "dose": number_value(form, "dose", errors),
        "dose_unit": text_value(form, "dose_unit") or None,
        "route": text_value(form, "route") or None,
        "frequency": text_value(form, "frequency") or None,
        "duration_days": int_value(form, "duration_days", errors),
        "quantity": int_value(form, "quantity", errors),
    }
    if drug_id in stock_names:
        data["drug_id"] = drug_id
    if text_value(form, "instructions"):
        data["instructions"] = text_value(form, "instructions")
    return {k: v for k, v in data.items() if v is not None}


@routes.post("/patients/{patient_id}/prescriptions")
async def prescribe(request: web.Request) -> web.StreamResponse:
    """Prescribe; a drug that clashes with a recorded allergy needs an explicit confirmation."""
    by, patient_id, form = await _post(request)
    svc = service(request)
    stock_names = {s.drug_id: s.name for s in await svc.stock()}
    errors: Errors = {}
    data = prescription_from(form, stock_names, errors)
    if text_value(form, "override_reason"):
        data["override_reason"] = text_value(form, "override_reason")
    if errors:
        return await chart_page(request, patient_id, errors, form, status=400)
    return await _store(request, patient_id, form, svc.prescribe(patient_id, data, by=by),
                        "medicines")


@routes.post("/patients/{patient_id}/lab-orders")
async def order_lab(request: web.Request) -> web.StreamResponse:
    """Order a lab test."""
    by, patient_id, form = await _post(request)
    test = LAB_TESTS.get(text_value(form, "test"))
    if test is None:
        return await chart_page(request, patient_id, {"test": _("Please choose a test.")}, form,
                                status=400)
    order = {"test": test[0], "code": text_value(form, "test")}
    return await _store(request, patient_id, form,
                        service(request).order_lab(patient_id, order, by=by), "labs")


@routes.post("/patients/{patient_id}/void")
async def void(request: web.Request) -> web.StreamResponse:
    """Mark an entry as entered in error; it stays visible, struck through, with the reason."""
    by, patient_id, form = await _post(request)
    reason = text_value(form, "reason")
    if not reason:
        return await chart_page(request, patient_id, {
            "void:" + text_value(form, "entry_id"): _("Please write the reason.")}, form,
            status=400)
    return await _store(request, patient_id, form, service(request).void_entry(
        patient_id, text_value(form, "entry_id"), reason, by=by), "top")


@routes.get("/patients/{patient_id}/history")
async def history(request: web.Request) -> web.StreamResponse:
    """Every change of the chart: who, when, on which device."""
    who = require(request, "read_chart")
    patient_id = patient_id_of(request)
    try:
        chart = await service(request).get_chart(patient_id, by=who.id)
        changes = await service(request).chart_history(patient_id, by=who.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    return render(request, "history.html", chart=chart, changes=changes, sentence=sentence)


@routes.get("/icd10")
async def icd10_search(request: web.Request) -> web.StreamResponse:
    """ICD-10 matches as JSON, for the diagnosis field's suggestions."""
    require(request, "consult")
    found = icd10.search(request.query.get("q", "")[:60])
    return web.json_response([{"code": c.code, "label": c.label} for c in found])
