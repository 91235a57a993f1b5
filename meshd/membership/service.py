"""Membership as the node runs it: keys by epoch, the pairing desk, mDNS, and its JSON API.

    POST   /api/v1/pairing          {"lifetime_s"?} -> 201 {"code", "expires_in_s", "peer_port"}
    GET    /api/v1/pairing          -> {"state", "remaining_s", "failures", "joined"}
    DELETE /api/v1/pairing          -> the state, once the window is cancelled
    GET    /api/v1/devices          -> {"devices": [rows], "key_epoch"}
    POST   /api/v1/devices/revoke   {"device": name or id prefix} -> {"device_id", "name", "epoch"}

All behind the API's bearer token (the auth middleware covers /api/). The node (the composition
root) builds the keyring and the sync engine, passes `add_peer_route` and `keyring.entries` to
the engine, calls `add_api_routes`, then starts this after the engine.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from crdt_model import directory
from crdt_model.errors import ClinicMeshError, ValidationError
from crdt_model.ids import directory_id
from discovery.pairing import PAIRING_WINDOW_S
from meshd.api.body import json_object, optional_json_object
from meshd.api.middleware import caller_of
from meshd.clinic import Clinic, actions
from meshd.docs import Documents
from meshd.identity import DataDir
from meshd.lifecycle import Lifecycle
from meshd.membership.keyring import KeyAdopter, Keyring
from meshd.membership.mdns_link import MeshPeerFinder
from meshd.membership.pairing_desk import PairingDesk
from meshd.membership.roster import device_rows, make_admin, revoke
from meshd.sync.engine import SyncEngine

log = logging.getLogger(__name__)

PAIRING_ROUTE = "/api/v1/pairing"
DEVICES_ROUTE = "/api/v1/devices"
REVOKE_ROUTE = "/api/v1/devices/revoke"
ADMIN_ROUTE = "/api/v1/devices/admin"


class Membership(Lifecycle):
    """The node's key adoption, pairing desk and mDNS, started (after the sync engine) and
    stopped together."""

    def __init__(self, data: DataDir, documents: Documents, clinic: Clinic, keyring: Keyring,
                 engine: SyncEngine, *, mdns: bool) -> None:
        self.data = data
        self.keyring = keyring
        self.desk = PairingDesk(data, documents, clinic, keyring, set_flag=self._set_flag)
        self.finder: MeshPeerFinder | None = None
        self.engine = engine
        self._documents = documents
        self._clinic = clinic
        self._mdns = mdns
        self._adopter = KeyAdopter(documents, data, keyring)

    async def start(self) -> None:
        """Adopt keys already waiting in the directory, then advertise and browse over mDNS."""
        await self._adopter.check()
        if self._mdns:
            port = int(self.engine.address.rsplit(":", 1)[1])
            finder = MeshPeerFinder(self.engine, self.data.identity.device_id,
                                    self.data.identity.mesh_id, port)
            if await finder.start():
                self.finder = finder

    async def stop(self) -> None:
        """Close the window, leave mDNS, stop following the directory; safe twice."""
        await self.desk.stop()
        finder, self.finder = self.finder, None
        if finder is not None:
            await finder.stop()
        self._adopter.close()

    def add_peer_route(self, app: web.Application) -> None:
        """The pairing route on the peer port (passed to the sync transport)."""
        self.desk.add_peer_route(app)

    async def _set_flag(self, open_: bool) -> None:
        if self.finder is not None:
            await self.finder.set_pairing(open_)

    def peer_port(self) -> int | None:
        """The port peers (and joining devices) dial, once the engine listens."""
        return int(self.engine.address.rsplit(":", 1)[1]) if self.engine.started.is_set() else None

    async def devices(self) -> dict[str, Any]:
        """The roster as the API lists it."""
        doc_id = directory_id(self.data.identity.mesh_id)
        try:
            found = await self._documents.read(doc_id, directory.devices)
        except ClinicMeshError:
            found = {}
        return {"devices": device_rows(found, self.data.identity.device_id),
                "key_epoch": self.keyring.epoch}

    def add_api_routes(self, app: web.Application) -> None:
        """Mount the pairing and membership routes on the API app."""

        async def open_pairing(request: web.Request) -> web.Response:
            body = await optional_json_object(request)
            lifetime = body.get("lifetime_s", PAIRING_WINDOW_S)
            if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
                raise ValidationError("lifetime_s must be a number of seconds", field="lifetime_s")
            window = await self.desk.open(caller_of(request), float(lifetime))
            return web.json_response({
                "code": window.code, "expires_in_s": round(window.remaining_s(), 1),
                "peer_port": self.peer_port(), "mdns": self.finder is not None,
            }, status=201)

        async def pairing_state(request: web.Request) -> web.Response:
            return web.json_response(self.desk.state())

        async def close_pairing(request: web.Request) -> web.Response:
            self.desk.close()
            return web.json_response(self.desk.state())

        async def list_devices(request: web.Request) -> web.Response:
            return web.json_response(await self.devices())

        async def revoke_device(request: web.Request) -> web.Response:
            body = await json_object(request)
            ref = body.get("device")
            if not isinstance(ref, str) or not ref.strip():
                raise ValidationError("name the device to revoke (name or id)", field="device")
            caller = caller_of(request)
            doc_id = directory_id(self.data.identity.mesh_id)
            audit = [self._clinic.audit(caller, actions.REVOKE_DEVICE, doc_id, ref[:100])]
            done = await revoke(self._documents, self.data, self.keyring, ref,
                                self._clinic.author(caller), audit)
            self.desk.close()  # a code shown before the rotation would hand out the old key
            log.info("revoked device %s (%s); mesh key epoch now %d", done.name, done.device_id,
                     done.epoch)
            return web.json_response({"device_id": done.device_id, "name": done.name,
                                      "epoch": done.epoch, "sealed_to": done.sealed_to})

        async def admin_device(request: web.Request) -> web.Response:
            ref = (await json_object(request)).get("device")
            if not isinstance(ref, str) or not ref.strip():
                raise ValidationError("name the device (name or id)", field="device")
            caller = caller_of(request)
            doc_id = directory_id(self.data.identity.mesh_id)
            audit = [self._clinic.audit(caller, actions.ADMIN_DEVICE, doc_id, ref[:100])]
            done = await make_admin(self._documents, self.data, ref, self._clinic.author(caller),
                                    audit)
            return web.json_response({"device_id": done, "admin": True})

        app.router.add_post(PAIRING_ROUTE, open_pairing)
        app.router.add_get(PAIRING_ROUTE, pairing_state)
        app.router.add_delete(PAIRING_ROUTE, close_pairing)
        app.router.add_get(DEVICES_ROUTE, list_devices)
        app.router.add_post(REVOKE_ROUTE, revoke_device)
        app.router.add_post(ADMIN_ROUTE, admin_device)
