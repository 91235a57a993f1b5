"""The node's relay routes (behind the API's bearer token):

    POST /api/v1/relay/link               {"credential": {...}, "ca_pem"?} keep it in the directory
    GET  /api/v1/relay/patients?q=TEXT    search every clinic on the relay (and its upstream:
                                          "upstream": "reached" | "unreachable" when it has one)
    POST /api/v1/relay/patients/{id}/pull bring the chart into this mesh (200 once it is here)

Each search and pull is audited in this clinic's store as well as on the relay.
"""

from __future__ import annotations

import json

from aiohttp import web

from crdt_model.errors import ValidationError
from meshd.api.middleware import caller_of, error_response
from meshd.clinic import Clinic
from meshd.relay import credential as cred
from meshd.relay.link import RelayUnavailable
from meshd.relay.patients import RelayPatients, RelayRefused


def add_relay_routes(app: web.Application, clinic: Clinic, patients: RelayPatients) -> None:
    """Mount the relay routes on the node's API app (the core decides and audits)."""

    async def store_link(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            raw = body.get("credential") if isinstance(body, dict) else None
            found = cred.parse(raw if isinstance(raw, str) else json.dumps(raw))
            if isinstance(body.get("ca_pem"), str):
                found = found.with_ca(body["ca_pem"])
        except ValueError:
            return error_response(400, "invalid", "the body is not JSON")
        return web.json_response(await clinic.link_relay(found.to_json(), caller_of(request)))

    async def search(request: web.Request) -> web.Response:
        try:
            results, upstream = await patients.search_tiers(request.query.get("q", ""),
                                                            caller_of(request))
        except RelayUnavailable as exc:
            return error_response(503, exc.code, exc.message)
        except RelayRefused as exc:
            return web.json_response(exc.answer, status=exc.status if exc.status < 500 else 502)
        answer: dict[str, object] = {"results": results}
        if upstream is not None:  # the relay's upstream was asked too (or could not be)
            answer["upstream"] = upstream
        return web.json_response(answer)

    async def pull(request: web.Request) -> web.Response:
        try:
            here, sources = await patients.pull(request.match_info["id"], caller_of(request))
        except ValidationError as exc:
            return error_response(400, exc.code, exc.message, exc.field)
        except RelayUnavailable as exc:
            return error_response(503, exc.code, exc.message)
        except RelayRefused as exc:
            return web.json_response(exc.answer, status=exc.status if exc.status < 500 else 502)
        return web.json_response({"id": request.match_info["id"], "here": here,
                                  "from": sources}, status=200 if here else 202)

    app.router.add_post("/api/v1/relay/link", store_link)
    app.router.add_get("/api/v1/relay/patients", search)
    app.router.add_post("/api/v1/relay/patients/{id}/pull", pull)
