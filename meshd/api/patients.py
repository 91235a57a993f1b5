"""Patient routes: register, search, read a chart (docs/ARCHITECTURE.md §9)."""

from __future__ import annotations

from aiohttp import web

from crdt_model.errors import ValidationError
from meshd.api.body import json_object, patient_id
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of

MAX_QUERY_CHARS = 200


async def register(request: web.Request) -> web.Response:
    """POST /api/v1/patients: 201 {"id": <patient uuid>}."""
    data = await json_object(request)
    new_id = await request.app[SERVICE].register_patient(data, caller_of(request))
    return web.json_response({"id": new_id}, status=201)


async def search(request: web.Request) -> web.Response:
    """GET /api/v1/patients?q=TEXT: {"results": [search rows]}."""
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationError(f"q is longer than {MAX_QUERY_CHARS} characters", field="q")
    rows = await request.app[SERVICE].search_patients(query, caller_of(request))
    return web.json_response({"results": rows})


async def read_chart(request: web.Request) -> web.Response:
    """GET /api/v1/patients/{id}: the chart as JSON, with `id` and `demographics`."""
    view = await request.app[SERVICE].chart(patient_id(request), caller_of(request))
    return web.json_response(view)


def add_routes(app: web.Application) -> None:
    """Mount the patient routes."""
    app.router.add_post("/api/v1/patients", register)
    app.router.add_get("/api/v1/patients", search)
    app.router.add_get("/api/v1/patients/{id}", read_chart)
