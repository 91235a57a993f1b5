"""One POST per chart operation under `/api/v1/patients/{id}/…`; each answers {"id": entry}.

Each handler reads the body and the path, calls one method of the clinic core
(`meshd.clinic.Clinic`) and renders its answer; the core validates and decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from crdt_model.validate import reject_unknown
from meshd.api.body import json_object, optional_json_object, path_entry, patient_id
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of
from meshd.clinic import Caller, Clinic

EntryAct = Callable[[Clinic, str, Mapping[str, Any], Caller], Awaitable[str]]
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _answer(entry_id: str, status: int = 201) -> web.Response:
    return web.json_response({"id": entry_id}, status=status)


def _entry_route(path: str, act: EntryAct) -> Handler:
    """A handler that records the JSON body as a new entry through the core's `act`."""

    async def handler(request: web.Request) -> web.Response:
        data = await json_object(request)
        clinic = request.app[SERVICE]
        return _answer(await act(clinic, patient_id(request), data, caller_of(request)))

    handler.__doc__ = f"POST …/{path}: 201 {{'id': <entry id>}}."
    return handler


async def _reason(request: web.Request) -> str:
    body = await json_object(request)
    reject_unknown(body, ("reason",))
    reason = body.get("reason", "")
    return reason if isinstance(reason, str) else ""


async def demographics(request: web.Request) -> web.Response:
    """POST …/demographics: write changed fields; 200 {"id": <write id>}."""
    data = await json_object(request)
    clinic = request.app[SERVICE]
    return _answer(await clinic.update_demographics(patient_id(request), data,
                                                    caller_of(request)), 200)


async def close_encounter(request: web.Request) -> web.Response:
    """POST …/encounters/{eid}/close: 200 {"id": <encounter id>}."""
    reject_unknown(await optional_json_object(request), ())
    clinic = request.app[SERVICE]
    return _answer(await clinic.close_encounter(
        patient_id(request), path_entry(request, "eid"), caller_of(request)), 200)


ReasonedAct = Callable[[Clinic, str, str, str, Caller], Awaitable[str]]


async def _reasoned(request: web.Request, act: ReasonedAct, target: str) -> web.Response:
    """Apply `act` to the entry named by the path's `target`, with the body's {"reason"}."""
    reason = await _reason(request)
    return _answer(await act(request.app[SERVICE], patient_id(request),
                             path_entry(request, target), reason, caller_of(request)))


async def cancel_prescription(request: web.Request) -> web.Response:
    """POST …/prescriptions/{pid}/cancel with {"reason"}: 201 {"id": <cancel entry id>}."""
    return await _reasoned(request, Clinic.cancel_prescription, "pid")


async def void_entry(request: web.Request) -> web.Response:
    """POST …/entries/{eid}/void with {"reason"}: 201 {"id": <void entry id>}."""
    return await _reasoned(request, Clinic.void_entry, "eid")


async def correct_entry(request: web.Request) -> web.Response:
    """POST …/entries/{eid}/correct with the corrected entry: 201 {"id": <new entry id>}."""
    data = await json_object(request)
    return _answer(await request.app[SERVICE].correct_entry(
        patient_id(request), path_entry(request, "eid"), data, caller_of(request)))


async def resolve_review(request: web.Request) -> web.Response:
    """POST …/review/{item}/resolve with {"choice", "note"?}: 200 {"id": <resolution id>}."""
    body = await json_object(request)
    reject_unknown(body, ("choice", "note"))
    choice, note = body.get("choice", ""), body.get("note", "")
    return _answer(await request.app[SERVICE].resolve_review(
        request.match_info["item"], choice if isinstance(choice, str) else "",
        caller_of(request), note=note if isinstance(note, str) else "",
        patient_id=patient_id(request)), 200)


async def link_duplicate(request: web.Request) -> web.Response:
    """POST …/link-duplicate {"survivor": <patient id>}: this chart is the same patient."""
    body = await json_object(request)
    reject_unknown(body, ("survivor",))
    return _answer(await request.app[SERVICE].link_duplicate(
        patient_id(request), body.get("survivor", ""), caller_of(request)))


ENTRY_ROUTES: dict[str, EntryAct] = {
    "allergies": Clinic.add_allergy,
    "encounters": Clinic.open_encounter,
    "triage": Clinic.record_triage,
    "notes": Clinic.add_note,
    "diagnoses": Clinic.add_diagnosis,
    "prescriptions": Clinic.prescribe,
    "dispense": Clinic.dispense,
    "lab-orders": Clinic.order_lab,
    "lab-results": Clinic.record_lab_result,
    "consultations": Clinic.record_consultation,
    "referrals": Clinic.refer,
}


def add_routes(app: web.Application) -> None:
    """Mount every chart operation route."""
    base = "/api/v1/patients/{id}"
    for path, act in ENTRY_ROUTES.items():
        app.router.add_post(f"{base}/{path}", _entry_route(path, act))
    app.router.add_post(f"{base}/demographics", demographics)
    app.router.add_post(f"{base}/encounters/{{eid}}/close", close_encounter)
    app.router.add_post(f"{base}/prescriptions/{{pid}}/cancel", cancel_prescription)
    app.router.add_post(f"{base}/entries/{{eid}}/void", void_entry)
    app.router.add_post(f"{base}/entries/{{eid}}/correct", correct_entry)
    app.router.add_post(f"{base}/link-duplicate", link_duplicate)
    app.router.add_post(f"{base}/review/{{item}}/resolve", resolve_review)
