"""Report route: the clinic's figures of a period (the numbers the DHIS2 export sends)."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from crdt_model.errors import ValidationError
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of


async def report(request: web.Request) -> web.Response:
    """GET /api/v1/reports?first=YYYY-MM-DD&last=YYYY-MM-DD: {first_day, last_day, visits,
    visits_per_day, by_station, by_age_sex, diagnoses (code -> age group -> sex -> visits),
    top_diagnoses [[code, visits]], stock_consumed (drug id -> {name, unit, quantity})}."""
    first = request.query.get("first", "")
    if not first:
        raise ValidationError("give the period as ?first=YYYY-MM-DD&last=YYYY-MM-DD",
                              field="first")
    found = await request.app[SERVICE].period_report(
        first, request.query.get("last", first), caller_of(request))
    return web.json_response(asdict(found))


def add_routes(app: web.Application) -> None:
    """Mount the report route."""
    app.router.add_get("/api/v1/reports", report)
