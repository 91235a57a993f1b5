"""The node's relay routes (behind the API's bearer token):

    POST /api/v1/relay/link               {"credential": {...}, "ca_pem"?} keep it in the directory
    GET  /api/v1/relay/patients?q=TEXT    search every clinic on the relay
    POST /api/v1/relay/patients/{id}/pull bring the chart into this mesh (200 once it is here)

Each search and pull is audited in this clinic's store as well as on the relay.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from aiohttp import web

from crdt_model.errors import ValidationError
from crdt_model.ids import chart_id, check_uuid
from meshd.api.middleware import caller_of, error_response
from meshd.clinic import Clinic, actions
from meshd.docs import Documents
from meshd.relay import credential as cred
from meshd.relay.link import RelayLink, RelayUnavailable

PULL_WAIT_S = 10.0


def add_relay_routes(app: web.Application, link: RelayLink, clinic: Clinic,
                     documents: Documents) -> None:
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
        query = request.query.get("q", "")
        try:
            status, answer = await link.call("GET", f"/relay/v1/patients?q={quote(query)}")
        except RelayUnavailable as exc:
            return error_response(503, exc.code, exc.message)
        if status != 200:
            return web.json_response(answer, status=status if status < 500 else 502)
        results = answer.get("results", []) if isinstance(answer, dict) else []
        await clinic.audit_relay(actions.RELAY_SEARCH, "", f"q={query!r}: {len(results)} results",
                                 caller_of(request))
        return web.json_response({"results": results})

    async def pull(request: web.Request) -> web.Response:
        try:
            patient = check_uuid(request.match_info["id"], "id")
        except ValidationError as exc:
            return error_response(400, exc.code, exc.message, exc.field)
        try:
            status, answer = await link.call("POST", f"/relay/v1/patients/{patient}/pull")
        except RelayUnavailable as exc:
            return error_response(503, exc.code, exc.message)
        if status != 200:
            return web.json_response(answer, status=status if status < 500 else 502)
        doc_id = chart_id(patient)
        await clinic.audit_relay(actions.RELAY_PULL, doc_id,
                                 f"from {', '.join(answer.get('from', []))}", caller_of(request))
        here = await _arrived(documents, doc_id)
        return web.json_response({"id": patient, "here": here, "from": answer.get("from", [])},
                                 status=200 if here else 202)

    app.router.add_post("/api/v1/relay/link", store_link)
    app.router.add_get("/api/v1/relay/patients", search)
    app.router.add_post("/api/v1/relay/patients/{id}/pull", pull)


async def _arrived(documents: Documents, doc_id: str) -> bool:
    """Wait (bounded) for the pulled chart to reach this device through the relay link."""
    came = asyncio.Event()

    def heard(changed: str, heads: object, origin: str) -> None:
        if changed == doc_id:
            came.set()

    unsubscribe = documents.subscribe(heard)
    try:
        if not await documents.exists(doc_id):
            async with asyncio.timeout(PULL_WAIT_S):
                await came.wait()
        return True
    except TimeoutError:
        return False
    finally:
        unsubscribe()
