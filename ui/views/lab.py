"""The lab worklist: open orders, oldest first, each with a result form."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crdt_model.errors import ClinicMeshError, NotFound
from crdt_model.lab_tests import LAB_TESTS as CATALOGUE_TESTS
from ui.clinical import INTERPRETATION_LABELS, LAB_TESTS
from ui.forms import Errors, error_message, number_value, posted_text, text_value
from ui.views.patients import patient_id_of
from ui.web import redirect, render, require, service, worklist_window

routes = web.RouteTableDef()


async def _page(request: web.Request, errors: Errors | None = None,
                form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    show_all = request.query.get("all") == "1" or bool(errors)
    orders, more = worklist_window(await service(request).pending_lab_orders(), show_all)
    units = {label: unit for label, unit in LAB_TESTS.values()}
    return render(request, "lab.html", status=status, orders=orders, more=more,
                  show_all=show_all, errors=errors or {},
                  form=form or {}, units=units, interpretations=INTERPRETATION_LABELS,
                  catalogue=CATALOGUE_TESTS)


@routes.get("/lab")
async def worklist(request: web.Request) -> web.StreamResponse:
    """Orders waiting for a result."""
    require(request, "lab")
    return await _page(request)


@routes.get("/lab/table")
async def worklist_table(request: web.Request) -> web.StreamResponse:
    """The worklist alone, for live refresh."""
    require(request, "lab")
    return await _page(request)


@routes.post("/lab/{patient_id}/{order_id}")
async def enter_result(request: web.Request) -> web.StreamResponse:
    """Store a result (the core sends a patient waiting at the lab back to consultation)."""
    who = require(request, "lab")
    patient_id = patient_id_of(request)
    order_id = request.match_info["order_id"]
    form = await posted_text(request)
    form["order_id"] = order_id
    test = CATALOGUE_TESTS.get(text_value(form, "code"))
    errors: Errors = {}
    value: Any = text_value(form, "value")
    if test is None or test.result == "number":
        number = number_value(form, "value", {} if test is None else errors)
        value = value if number is None else number
    if errors:
        return await _page(request, {f"{order_id}:{k}": v for k, v in errors.items()}, form,
                           status=400)
    result: dict[str, Any] = {"order_id": order_id, "value": value}
    for key in ("unit", "interpretation", "note") if test is None else ("note",):
        if text_value(form, key):
            result[key] = text_value(form, key)
    try:
        await service(request).record_lab_result(patient_id, result, by=who.id)
    except ClinicMeshError as exc:
        field, message = error_message(exc)
        return await _page(request, {f"{order_id}:{field}": message}, form, status=400)
    raise redirect("/lab")


@routes.get("/patients/{patient_id}/lab/{order_id}")
async def report(request: web.Request) -> web.StreamResponse:
    """A lab order's results on one printable page: value, unit, reference range and flag."""
    who = require(request, "read_chart")
    patient_id = patient_id_of(request)
    try:
        chart = await service(request).get_chart(patient_id, by=who.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    order_id = request.match_info["order_id"]
    order = next((e for e in chart.entries if e.id == order_id and e.kind == "lab_order"), None)
    if order is None:
        raise web.HTTPNotFound()
    results = [e for e in chart.of_kind("lab_result", include_voided=True)
               if e.data.get("order_id") == order_id]
    return render(request, "lab_report.html", chart=chart, order=order,
                  results=list(reversed(results)), lab_tests=LAB_TESTS)
