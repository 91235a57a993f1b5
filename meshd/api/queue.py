"""Queue routes: the day's patient flow at this facility (who waits at which station)."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from crdt_model.validate import reject_unknown
from meshd.api.body import json_object, optional_json_object, path_entry
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of
from meshd.clinic.flow import DONE, FIRST_STATION


async def rows(request: web.Request) -> web.Response:
    """GET /api/v1/queue[?day=YYYY-MM-DD]: {"day", "rows": [{entry_id, patient_id, station…}]}."""
    clinic = request.app[SERVICE]
    day = request.query.get("day") or clinic.today().isoformat()
    rows = [asdict(row) for row in await clinic.queue_rows(day)]
    return web.json_response({"day": day, "rows": rows})


async def follow_ups(request: web.Request) -> web.Response:
    """GET /api/v1/follow-ups[?day=YYYY-MM-DD]: {"day", "follow_ups": [{patient_id, names,
    number, day, consultation_id, plan}]}: the patients a consultation asked back that day."""
    clinic = request.app[SERVICE]
    day = request.query.get("day") or clinic.today().isoformat()
    found = await clinic.follow_ups(day, caller_of(request))
    return web.json_response({"day": day, "follow_ups": found})


async def enqueue(request: web.Request) -> web.Response:
    """POST /api/v1/queue {"patient_id", "station"?}: 201 {"id": <queue entry id>}."""
    body = await json_object(request)
    reject_unknown(body, ("patient_id", "station"))
    entry_id = await request.app[SERVICE].enqueue(
        body.get("patient_id", ""), body.get("station", FIRST_STATION), caller_of(request)
    )
    return web.json_response({"id": entry_id}, status=201)


async def move(request: web.Request) -> web.Response:
    """POST /api/v1/queue/{entry}/move {"station"}: 200 {"id": <move id>}."""
    body = await json_object(request)
    reject_unknown(body, ("station",))
    move_id = await request.app[SERVICE].move_entry(
        path_entry(request, "entry"), body.get("station", ""), caller_of(request)
    )
    return web.json_response({"id": move_id})


async def done(request: web.Request) -> web.Response:
    """POST /api/v1/queue/{entry}/done: the patient has left; 200 {"id": <move id>}."""
    reject_unknown(await optional_json_object(request), ())
    move_id = await request.app[SERVICE].move_entry(
        path_entry(request, "entry"), DONE, caller_of(request)
    )
    return web.json_response({"id": move_id})


def add_routes(app: web.Application) -> None:
    """Mount the queue routes."""
    app.router.add_get("/api/v1/queue", rows)
    app.router.add_get("/api/v1/follow-ups", follow_ups)
    app.router.add_post("/api/v1/queue", enqueue)
    app.router.add_post("/api/v1/queue/{entry}/move", move)
    app.router.add_post("/api/v1/queue/{entry}/done", done)
