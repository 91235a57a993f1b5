"""An upstream (national) relay's side of relay tiers (meshd.relay.tiers): the downstream
relays' links, one per clinic they serve.

    wss://HOST:PORT/relay/v1/tier/<downstream id>/<clinic id>?mesh=…&key=…&name=…

The request carries the tier credential as its bearer; an unknown, revoked or wrong one is
refused before the WebSocket opens. The downstream is bound to the relay key of its first link;
the clinic becomes a clinic of this relay (made at its first link, named "<downstream>/<clinic>",
its own space and store, bound to its mesh like any clinic), and the link then runs as a
device's would: the handshake proves the derived secret and the downstream's key, and every
change is checked against the clinic's roster, or, for devices the roster does not list, a
relay's countersignature (SpaceTrust: the downstream's only for devices of no clinic this relay
serves through another way).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from aiohttp import web

from meshd.relay.credential import secret_matches
from meshd.relay.registry import ClinicRecord
from meshd.relay.tiers import TIER_PATH, SpaceTrust, TierRecords

if TYPE_CHECKING:
    from meshd.relay.server import RelayServer

_HEX64 = re.compile(r"[0-9a-f]{64}")
_CLINIC_ID = re.compile(r"[0-9a-f]{16,32}")


class Downstreams:
    """The tier route and whom each clinic's space trusts."""

    def __init__(self, server: RelayServer) -> None:
        self._server = server
        self.records = TierRecords(server.registry)

    def add_routes(self, app: web.Application) -> None:
        """The downstream relays' sync route."""
        app.router.add_get(TIER_PATH + "{downstream}/{clinic}", self._link)

    async def trust(self, clinic: ClinicRecord) -> SpaceTrust:
        """Whom the clinic's space trusts beyond its roster: this relay, its upstream, and the
        downstream relay the clinic came through (if it did)."""
        server = self._server
        own, upstream = server.identity.public_key, server.upstream.key
        through = (await asyncio.to_thread(self.records.downstream_of)).get(clinic.id)
        found = await asyncio.to_thread(self.records.get, through) if through else None
        if found is None or found.relay_key is None:
            return SpaceTrust(own, upstream)

        def elsewhere(prefix: bytes) -> bool:
            return any(space.lists_device(prefix) for space in list(server.spaces.values())
                       if space.trust.downstream_id != through)

        return SpaceTrust(own, upstream, bytes.fromhex(found.relay_key), elsewhere, through)

    async def _link(self, request: web.Request) -> web.StreamResponse:
        downstream_id, clinic_id = request.match_info["downstream"], request.match_info["clinic"]
        _, _, secret = request.headers.get("Authorization", "").removeprefix(
            "Bearer ").partition(".")
        key, mesh_id = request.query.get("key", ""), request.query.get("mesh", "")
        found = await asyncio.to_thread(self.records.get, downstream_id)
        if found is None or found.revoked_ms is not None \
                or not secret_matches(found.secret, secret):
            raise web.HTTPForbidden(text="no such downstream relay here")
        if not _HEX64.fullmatch(key) or not _CLINIC_ID.fullmatch(clinic_id) or not mesh_id:
            raise web.HTTPBadRequest(text="a tier link names its clinic, mesh and relay key")
        if not await asyncio.to_thread(self.records.bind_key, found.id, key):
            raise web.HTTPForbidden(text="this tier credential belongs to another relay")
        clinic = await asyncio.to_thread(self.records.clinic, found, clinic_id,
                                         request.query.get("name", "")[:100])
        if clinic.revoked_ms is not None:
            raise web.HTTPForbidden(text="this clinic's link is revoked")
        return await self._server.serve_link(request, clinic, mesh_id)
