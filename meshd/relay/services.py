"""Ancillary services (a district laboratory, a referral hospital) writing to a clinic's charts
through the relay, with their own credential (`meshd relay add-service`):

    POST /relay/v1/patients/<id>/lab-results   {order_id, value, unit?, interpretation?, note?}

The result is recorded by the clinic core (`Clinic.record_lab_result`, the same rules and audit
as on a device) in the clinic's space on the relay, as the relay's device with the service as
user, signed by the relay's key; the clinic's linked devices get it pushed at once and accept
the relay's signature as for any device not on their roster (docs/ARCHITECTURE.md §5 "Relay").
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from crdt_model.errors import ClinicMeshError, ConflictError, Forbidden, NotFound
from meshd.api.middleware import error_response
from meshd.clinic import Caller
from meshd.relay.credential import secret_matches
from meshd.relay.registry import ServiceRecord

if TYPE_CHECKING:
    from meshd.relay.server import RelayServer

MAX_BODY_BYTES = 64 * 1024
_STATUS = ((NotFound, 404), (Forbidden, 403), (ConflictError, 409))


class Services:
    """The relay's API for ancillary services."""

    def __init__(self, server: RelayServer) -> None:
        self._server = server

    def add_routes(self, app: web.Application) -> None:
        """The services' routes."""
        app.router.add_post("/relay/v1/patients/{id}/lab-results", self._lab_result)

    async def _service_of(self, request: web.Request) -> ServiceRecord | None:
        header = request.headers.get("Authorization", "")
        service_id, _, secret = header.removeprefix("Bearer ").partition(".")
        registry = self._server.registry
        found = await asyncio.to_thread(registry.service, service_id) if service_id else None
        if found is None or found.revoked_ms is not None or not secret_matches(found.secret,
                                                                               secret):
            return None
        return found

    async def _lab_result(self, request: web.Request) -> web.Response:
        service = await self._service_of(request)
        if service is None:
            return error_response(401, "unauthorized", "no valid service credential")
        space = self._server.spaces.get(service.clinic_id)
        if space is None:
            return error_response(409, "conflict", "the clinic has not linked to the relay yet")
        try:
            body = await request.json()
            clinic = await space.core()
            entry = await clinic.record_lab_result(request.match_info["id"], body,
                                                   Caller(f"service-{service.id}", "relay"))
        except ValueError:
            return error_response(400, "invalid", "the body is not JSON")
        except ClinicMeshError as exc:
            status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 400)
            return error_response(status, exc.code, exc.message, exc.field)
        await asyncio.to_thread(self._server.registry.audit, service.clinic_id, "lab_result",
                                {"service": service.name, "patient": request.match_info["id"]})
        return web.json_response({"id": entry}, status=201)
