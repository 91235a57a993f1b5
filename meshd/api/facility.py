"""Facility routes: the drug catalogue and the stock ledger of this device's facility."""

from __future__ import annotations

from aiohttp import web

from meshd.api.body import json_object
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of


async def drugs(request: web.Request) -> web.Response:
    """GET /api/v1/facility/drugs: {"drugs": {drug id: {name, form, strength, unit}}}."""
    return web.json_response({"drugs": await request.app[SERVICE].drugs()})


async def add_drug(request: web.Request) -> web.Response:
    """POST /api/v1/facility/drugs {"drug_id"?, name, form?, strength?, unit?}: 201 {"id"}."""
    data = await json_object(request)
    drug_id = await request.app[SERVICE].add_drug(data, caller_of(request))
    return web.json_response({"id": drug_id}, status=201)


async def stock(request: web.Request) -> web.Response:
    """GET /api/v1/facility/stock: {"stock": {drug id: {name, level, negative}}}."""
    return web.json_response({"stock": await request.app[SERVICE].stock()})


async def stock_card(request: web.Request) -> web.Response:
    """GET /api/v1/facility/stock/{drug_id}: {drug_id, name, level, batches: [{batch, expires,
    level, expired, near_expiry}], movements: [{kind, quantity, batches, ref, user, at, level}]}."""
    return web.json_response(await request.app[SERVICE].stock_card(
        request.match_info["drug_id"], caller_of(request)))


async def receive(request: web.Request) -> web.Response:
    """POST /api/v1/facility/stock/receive {drug_id, quantity, ref?, batch?, expires?}: 201
    {"id": <ledger id>}."""
    data = await json_object(request)
    return web.json_response(
        {"id": await request.app[SERVICE].receive_stock(data, caller_of(request))}, status=201
    )


async def adjust(request: web.Request) -> web.Response:
    """POST /api/v1/facility/stock/adjust {drug_id, quantity, reason}: 201 {"id": <ledger id>}."""
    data = await json_object(request)
    return web.json_response(
        {"id": await request.app[SERVICE].adjust_stock(data, caller_of(request))}, status=201
    )


async def count(request: web.Request) -> web.Response:
    """POST /api/v1/facility/stock/{drug_id}/count {counts: {batch: counted}, reason}: a shelf
    count per batch ("" is the stock without a batch number); 201 {"adjusted": [ledger ids]}
    (one per batch that differed)."""
    data = await json_object(request)
    counts = data.get("counts")
    written = await request.app[SERVICE].count_batches(
        request.match_info["drug_id"], counts if isinstance(counts, dict) else {},
        str(data.get("reason") or ""), caller_of(request))
    return web.json_response({"adjusted": written}, status=201)


def add_routes(app: web.Application) -> None:
    """Mount the facility routes."""
    app.router.add_get("/api/v1/facility/drugs", drugs)
    app.router.add_post("/api/v1/facility/drugs", add_drug)
    app.router.add_get("/api/v1/facility/stock", stock)
    app.router.add_post("/api/v1/facility/stock/receive", receive)
    app.router.add_get("/api/v1/facility/stock/{drug_id}", stock_card)
    app.router.add_post("/api/v1/facility/stock/adjust", adjust)
    app.router.add_post("/api/v1/facility/stock/{drug_id}/count", count)
