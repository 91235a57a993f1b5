"""Pharmacy: dispense against prescriptions with stock levels, receive stock, stock-out
warnings, reconcile a level below zero, add drugs to the catalogue. What a dispense does next
(the patient leaves the pharmacy once nothing is left) is the clinic core's rule."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from crdt_model.errors import ClinicMeshError, NotFound
from ui.forms import Errors, error_message, error_messages, int_value, posted_text, text_value
from ui.i18n import gettext as _
from ui.views.patients import patient_id_of
from ui.web import redirect, render, require, service, worklist_window

routes = web.RouteTableDef()
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MAX_BATCHES_COUNTED = 200  # a form's batches; more would be a forged form
_LABEL = re.compile(f"/patients/{_UUID}/labels/{_UUID}")


async def _page(request: web.Request, errors: Errors | None = None,
                form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    svc = service(request)
    stock = await svc.stock()
    every = await svc.pending_prescriptions()
    wanted = {p.drug_id for p in every}
    pending, more = worklist_window(every, request.query.get("all") == "1" or bool(errors))
    # Worth a warning: a level below zero, or none left of a medicine someone is waiting for
    # (a catalogue medicine never stocked here is not news).
    short = [s for s in stock if s.level < 0 or (s.level == 0 and s.drug_id in wanted)]
    printed = request.query.get("label", "")
    return render(request, "pharmacy.html", status=status, pending=pending, more=more, stock=stock,
                  label=printed if _LABEL.fullmatch(printed) else None,
                  short=short, expiring=await svc.expiring_batches(),
                  batches=await svc.stock_batches(),
                  levels={s.drug_id: s for s in stock}, errors=errors or {}, form=form or {})


@routes.get("/pharmacy")
async def worklist(request: web.Request) -> web.StreamResponse:
    """Prescriptions to dispense and the stock."""
    require(request, "pharmacy")
    return await _page(request)


@routes.post("/pharmacy/dispense")
async def dispense(request: web.Request) -> web.StreamResponse:
    """Give medicine against a prescription; a level going below zero is allowed but flagged."""
    who = require(request, "pharmacy")
    form = await posted_text(request)
    errors: Errors = {}
    prefix = text_value(form, "prescription_id")
    data: dict[str, Any] = {
        "prescription_id": prefix, "drug_id": text_value(form, "drug_id"),
        "quantity": int_value(form, "quantity", errors),
    }
    patient_id = text_value(form, "patient_id")
    given = ""
    if not errors:
        try:
            given = await service(request).dispense(patient_id, data, by=who.id)
        except ClinicMeshError as exc:
            field, message = error_message(exc)
            errors[field] = message
    if errors:
        return await _page(request, {f"{prefix}:{k}": v for k, v in errors.items()}, form, 400)
    raise redirect(f"/pharmacy?label=/patients/{patient_id}/labels/{given}")


@routes.get("/patients/{patient_id}/labels/{dispensation_id}")
async def label(request: web.Request) -> web.StreamResponse:
    """The label stuck on what was given: patient, medicine, how to take it, how much, when."""
    who = require(request, "read_chart")
    try:
        chart = await service(request).get_chart(patient_id_of(request), by=who.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    given = next((e for e in chart.of_kind("dispensation")
                  if e.id == request.match_info["dispensation_id"]), None)
    if given is None:
        raise web.HTTPNotFound()
    prescribed = next((e for e in chart.entries
                       if e.id == given.data.get("prescription_id")), None)
    return render(request, "label.html", chart=chart, given=given, prescribed=prescribed)


async def _ledger(request: web.Request, form: dict[str, str], write: Awaitable[Any],
                  prefix: str) -> web.StreamResponse:
    try:
        await write
    except ClinicMeshError as exc:
        field, message = error_message(exc)
        return await _page(request, {f"{prefix}:{field}": message}, form, 400)
    raise redirect("/pharmacy#stock")


@routes.post("/pharmacy/receive")
async def receive(request: web.Request) -> web.StreamResponse:
    """Add delivered stock."""
    who = require(request, "pharmacy")
    form = await posted_text(request)
    errors: Errors = {}
    quantity = int_value(form, "quantity", errors)
    if quantity is None or quantity <= 0:
        errors.setdefault("quantity", _("The quantity must be a whole number above zero."))
    if errors:
        return await _page(request, {f"receive:{k}": v for k, v in errors.items()}, form, 400)
    assert quantity is not None
    return await _ledger(request, form, service(request).receive_stock(
        text_value(form, "drug_id"), quantity, text_value(form, "note"), by=who.id,
        batch=text_value(form, "batch"), expires=text_value(form, "expires")), "receive")


async def _card_page(request: web.Request, errors: Errors | None = None,
                     form: dict[str, str] | None = None, status: int = 200) -> web.Response:
    try:
        card = await service(request).stock_card(request.match_info["drug_id"])
    except NotFound:
        raise web.HTTPNotFound() from None
    return render(request, "stock_card.html", status=status, card=card, errors=errors or {},
                  form=form or {}, counted=request.query.get("counted"))


@routes.get("/pharmacy/stock/{drug_id}")
async def stock_card(request: web.Request) -> web.StreamResponse:
    """A drug's stock card: batches soonest expiry first, every movement, the shelf count
    form; printable."""
    require(request, "pharmacy")
    return await _card_page(request)


@routes.post("/pharmacy/stock/{drug_id}/count")
async def count_batches(request: web.Request) -> web.StreamResponse:
    """A shelf count per batch (`batch-<i>`, `counted-<i>`; a batch left empty is not
    counted) with one reason: each batch that differs is adjusted."""
    who = require(request, "pharmacy")
    drug_id = request.match_info["drug_id"]
    form = await posted_text(request)
    errors: Errors = {}
    counts: dict[str, int] = {}
    field_of: dict[str, str] = {}
    for key in form:
        if not key.startswith("batch-") or len(counts) >= MAX_BATCHES_COUNTED:
            continue
        index = key.removeprefix("batch-")
        counted = int_value(form, f"counted-{index}", errors)
        if counted is not None and counted < 0:
            errors[f"counted-{index}"] = _("Please write a whole number of zero or more.")
        elif counted is not None:
            counts[form[key]] = counted
            field_of[f"counts.{form[key]}"] = f"counted-{index}"
    if not counts and not errors:
        errors["counts"] = _("Write what you counted of at least one batch.")
    if not text_value(form, "reason"):
        errors["reason"] = _("Please write the reason.")
    if not errors:
        try:
            adjusted = await service(request).count_batches(
                drug_id, counts, text_value(form, "reason"), by=who.id)
        except NotFound as exc:
            if exc.field == "drug_id":
                raise web.HTTPNotFound() from None
            errors = {field_of.get(f, f): m for f, m in error_messages(exc).items()}
        except ClinicMeshError as exc:
            errors = {field_of.get(f, f): m for f, m in error_messages(exc).items()}
        else:
            raise redirect(f"/pharmacy/stock/{drug_id}?counted={adjusted}#count")
    return await _card_page(request, errors, form, 400)


@routes.post("/pharmacy/adjust")
async def adjust(request: web.Request) -> web.StreamResponse:
    """Set the level to what was counted on the shelf (reconciles a level below zero)."""
    who = require(request, "pharmacy")
    form = await posted_text(request)
    errors: Errors = {}
    counted = int_value(form, "counted", errors)
    if counted is None or counted < 0:
        errors.setdefault("counted", _("Please write a whole number of zero or more."))
    reason = text_value(form, "reason")
    if not reason:
        errors["reason"] = _("Please write the reason.")
    if errors:
        return await _page(request, {f"adjust:{k}": v for k, v in errors.items()}, form, 400)
    assert counted is not None
    return await _ledger(request, form, service(request).count_stock(
        text_value(form, "drug_id"), counted, reason, by=who.id), "adjust")


@routes.post("/pharmacy/drugs")
async def add_drug(request: web.Request) -> web.StreamResponse:
    """Add a drug to the catalogue."""
    who = require(request, "pharmacy")
    form = await posted_text(request)
    errors: Errors = {}
    reorder = int_value(form, "reorder_level", errors)
    if errors:
        return await _page(request, {f"drug:{k}": v for k, v in errors.items()}, form, 400)
    return await _ledger(request, form, service(request).add_drug(
        text_value(form, "name"), text_value(form, "unit"), reorder or 0, by=who.id,
        atc=text_value(form, "atc").upper()), "drug")
