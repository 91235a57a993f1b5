"""One POST per chart operation under `/api/v1/patients/{id}/…`; each answers {"id": entry}.

Each handler only reads the body and the path and binds them to the crdt_model function that
does the work; validation of the clinical content happens there (and changes nothing on error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.validate import reject_unknown
from meshd.api.body import json_object, optional_json_object, path_entry, patient_id
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of

EntryOp = Callable[[Doc, Any, Author, str], object]
ReasonedOp = Callable[[Doc, str, str, Author, str], object]  # (doc, target, reason, author, id)
Handler = Callable[[web.Request], Any]


async def _run(request: web.Request, action: str, run: Callable[[Doc, Author, str], object],
               status: int = 201) -> web.Response:
    pid = patient_id(request)
    entry_id = await request.app[SERVICE].chart_op(pid, action, run, caller_of(request))
    return web.json_response({"id": entry_id}, status=status)


async def _with_reason(request: web.Request, action: str, target_key: str,
                       op: ReasonedOp) -> web.Response:
    """Apply `op` to the entry named by the path's `target_key`, with the body's {"reason"}."""
    body = await json_object(request)
    reject_unknown(body, ("reason",))
    target = path_entry(request, target_key)
    return await _run(
        request, action,
        lambda doc, author, eid: op(doc, target, body.get("reason", ""), author, eid),
    )


def _entry_route(action: str, op: EntryOp) -> Handler:
    """A handler that records the JSON body as a new entry through `op(doc, data, author, id)`."""

    async def handler(request: web.Request) -> web.Response:
        data = await json_object(request)
        return await _run(request, action, lambda doc, author, eid: op(doc, data, author, eid))

    handler.__doc__ = f"POST …/{action}: 201 {{'id': <entry id>}}."
    return handler


async def demographics(request: web.Request) -> web.Response:
    """POST …/demographics: write changed fields; 200 {"id": <write id>}."""
    data = await json_object(request)
    today = request.app[SERVICE].today()
    return await _run(
        request, "demographics",
        lambda doc, author, wid: chart.update_demographics(doc, data, author, wid, today),
        status=200,
    )


async def close_encounter(request: web.Request) -> web.Response:
    """POST …/encounters/{eid}/close: 200 {"id": <encounter id>}."""
    reject_unknown(await optional_json_object(request), ())
    eid = path_entry(request, "eid")
    await request.app[SERVICE].chart_op(
        patient_id(request), "close_encounter",
        lambda doc, author, _new: chart.close_encounter(doc, eid, author), caller_of(request),
    )
    return web.json_response({"id": eid})


async def cancel_prescription(request: web.Request) -> web.Response:
    """POST …/prescriptions/{pid}/cancel with {"reason"}: 201 {"id": <cancel entry id>}."""
    return await _with_reason(request, "cancel_prescription", "pid", chart.cancel_prescription)


async def void_entry(request: web.Request) -> web.Response:
    """POST …/entries/{eid}/void with {"reason"}: 201 {"id": <void entry id>}."""
    return await _with_reason(request, "void", "eid", chart.void_entry)


async def correct_entry(request: web.Request) -> web.Response:
    """POST …/entries/{eid}/correct with the corrected entry: 201 {"id": <new entry id>}."""
    data = await json_object(request)
    target = path_entry(request, "eid")
    return await _run(
        request, "correct",
        lambda doc, author, eid: chart.correct_entry(doc, target, data, author, eid),
    )


async def resolve_review(request: web.Request) -> web.Response:
    """POST …/review/{item}/resolve with {"choice"}: 200 {"id": <resolution id>}."""
    body = await json_object(request)
    reject_unknown(body, ("choice",))
    item = request.match_info["item"]
    return await _run(
        request, "resolve_review",
        lambda doc, author, wid: chart.resolve_review(
            doc, item, body.get("choice", ""), author, wid
        ),
        status=200,
    )


async def dispense(request: web.Request) -> web.Response:
    """POST …/dispense {prescription_id, drug_id, quantity, note?}: 201 {"id": <entry id>}."""
    data = await json_object(request)
    service = request.app[SERVICE]
    entry_id = await service.dispense(patient_id(request), data, caller_of(request))
    return web.json_response({"id": entry_id}, status=201)


async def link_duplicate(request: web.Request) -> web.Response:
    """POST …/link-duplicate {"survivor": <patient id>}: this chart is the same patient."""
    body = await json_object(request)
    reject_unknown(body, ("survivor",))
    service = request.app[SERVICE]
    entry_id = await service.link_duplicate(
        patient_id(request), body.get("survivor", ""), caller_of(request)
    )
    return web.json_response({"id": entry_id}, status=201)


ENTRY_ROUTES: dict[str, tuple[str, EntryOp]] = {
    "allergies": ("allergy", chart.record_allergy),
    "encounters": ("open_encounter", chart.open_encounter),
    "triage": ("triage", chart.record_triage),
    "notes": ("note", chart.add_note),
    "diagnoses": ("diagnosis", chart.record_diagnosis),
    "prescriptions": ("prescribe", chart.prescribe),
    "lab-orders": ("lab_order", chart.order_lab),
    "lab-results": ("lab_result", chart.record_lab_result),
}


def add_routes(app: web.Application) -> None:
    """Mount every chart operation route."""
    base = "/api/v1/patients/{id}"
    for path, (action, op) in ENTRY_ROUTES.items():
        app.router.add_post(f"{base}/{path}", _entry_route(action, op))
    app.router.add_post(f"{base}/demographics", demographics)
    app.router.add_post(f"{base}/encounters/{{eid}}/close", close_encounter)
    app.router.add_post(f"{base}/prescriptions/{{pid}}/cancel", cancel_prescription)
    app.router.add_post(f"{base}/dispense", dispense)
    app.router.add_post(f"{base}/entries/{{eid}}/void", void_entry)
    app.router.add_post(f"{base}/entries/{{eid}}/correct", correct_entry)
    app.router.add_post(f"{base}/link-duplicate", link_duplicate)
    app.router.add_post(f"{base}/review/{{item}}/resolve", resolve_review)
