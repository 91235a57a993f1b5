"""Facility routes: the drug catalogue and the stock ledger of this device's facility."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from crdt_model import facility
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.ids import check_slug
from meshd.api.body import json_object
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of


async def _ledger_entry(
    request: web.Request, record: Callable[[Doc, object, Author, str], object]
) -> web.Response:
    """Write the body as a stock ledger entry through `record`: 201 {"id": <ledger id>}."""
    data = await json_object(request)
    ledger_id = await request.app[SERVICE].facility_op(
        lambda doc, author, lid: record(doc, data, author, lid), caller_of(request),
    )
    return web.json_response({"id": ledger_id}, status=201)


async def drugs(request: web.Request) -> web.Response:
    """GET /api/v1/facility/drugs: {"drugs": {drug id: {name, form, strength, unit}}}."""
    return web.json_response({"drugs": await request.app[SERVICE].drugs()})


async def add_drug(request: web.Request) -> web.Response:
    """POST /api/v1/facility/drugs {"drug_id", name, form?, strength?, unit?}: 201 {"id"}."""
    data = await json_object(request)
    drug_id = check_slug(data.pop("drug_id", None), "drug_id")
    await request.app[SERVICE].facility_op(
        lambda doc, author, _id: facility.add_drug(doc, drug_id, data, author),
        caller_of(request), drug_id,
    )
    return web.json_response({"id": drug_id}, status=201)


async def stock(request: web.Request) -> web.Response:
    """GET /api/v1/facility/stock: {"stock": {drug id: {name, level, negative}}}."""
    return web.json_response({"stock": await request.app[SERVICE].stock()})


async def receive(request: web.Request) -> web.Response:
    """POST /api/v1/facility/stock/receive {drug_id, quantity, ref?}: 201 {"id": <ledger id>}."""
    return await _ledger_entry(request, facility.receive_stock)


async def adjust(request: web.Request) -> web.Response:
    """POST /api/v1/facility/stock/adjust {drug_id, quantity, reason}: 201 {"id": <ledger id>}."""
    return await _ledger_entry(request, facility.adjust_stock)


def add_routes(app: web.Application) -> None:
    """Mount the facility routes."""
    app.router.add_get("/api/v1/facility/drugs", drugs)
    app.router.add_post("/api/v1/facility/drugs", add_drug)
    app.router.add_get("/api/v1/facility/stock", stock)
    app.router.add_post("/api/v1/facility/stock/receive", receive)
    app.router.add_post("/api/v1/facility/stock/adjust", adjust)
