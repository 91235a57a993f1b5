"""The inviting device's pairing desk: one window (code) at a time, and rostering who joins.

Opening a window snapshots the mesh secret (keys, facility, directory with this device on it),
raises the mDNS pairing flag, and lowers it when the window closes: paired, expired after
5 minutes, three wrong codes, or cancelled (discovery.PairingWindow keeps those rules). The
peer port serves the PAKE at discovery's PAIRING_PATH; `_joined` rosters the new device in
`directory:<mesh>` before the new device is told it is in, so every peer accepts it once the
directory has synced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from crdt_model.adapter import Doc
from crdt_model.authority import admin_devices
from crdt_model.errors import ClinicMeshError, Forbidden, ValidationError
from crdt_model.ids import directory_id
from discovery.errors import PairingProtocolError
from discovery.pairing import PAIRING_WINDOW_S, PairingWindow, WindowState
from discovery.pairing_http import add_pairing_route, pairing_handler
from meshd.clinic import Caller, Clinic, actions
from meshd.docs import Documents
from meshd.identity import DataDir
from meshd.membership.keyring import Keyring
from meshd.membership.roster import add_joiner, ensure_self
from meshd.membership.secret import JoinerIdentity, MeshSecret, PairingPayloadError, decode_joiner

log = logging.getLogger(__name__)

WINDOW_POLL_S = 0.25  # how soon the mDNS flag drops after a window expires on its own


class PairingDesk:
    """The pairing window of this node and the route that serves it on the peer port."""

    def __init__(
        self, data: DataDir, documents: Documents, clinic: Clinic, keyring: Keyring,
        set_flag: Callable[[bool], Awaitable[None]] | None = None,
    ) -> None:
        self._data = data
        self._documents = documents
        self._clinic = clinic
        self._keyring = keyring
        self._set_flag = set_flag
        self.window: PairingWindow | None = None
        self.joined: JoinerIdentity | None = None
        self._opened_by: Caller | None = None
        self._changed = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    def add_peer_route(self, app: web.Application) -> None:
        """Serve pairing attempts on the peer port's app."""
        add_pairing_route(app, pairing_handler(self.current_window, on_joined=self._joined))

    def current_window(self) -> PairingWindow | None:
        """The window if it is open now."""
        return self.window if self.window is not None and self.window.is_open else None

    async def open(self, caller: Caller, lifetime_s: float = PAIRING_WINDOW_S) -> PairingWindow:
        """Open a new window (closing any open one) and raise the mDNS flag; returns it."""
        if not 0 < lifetime_s <= PAIRING_WINDOW_S:
            raise ValidationError(f"a pairing code lasts 1 to {PAIRING_WINDOW_S:.0f} seconds",
                                  field="lifetime_s")
        if self.window is not None:
            self.window.close()
        secret = await self._secret(caller)
        self.window = PairingWindow(secret.encode(), lifetime_s=lifetime_s)
        self.joined, self._opened_by = None, caller
        await self._stop_watcher()
        self._watcher = asyncio.create_task(self._watch(self.window))
        return self.window

    def close(self) -> None:
        """Cancel the open window, if any."""
        if self.window is not None:
            self.window.close()
            self._changed.set()

    def state(self) -> dict[str, Any]:
        """The window's state for the API: state, seconds left, wrong codes, who joined."""
        if self.window is None:
            return {"state": "none", "remaining_s": 0, "failures": 0, "joined": None}
        joined = self.joined
        return {
            "state": self.window.state.value, "remaining_s": round(self.window.remaining_s(), 1),
            "failures": self.window.failures,
            "joined": None if joined is None else {"id": joined.device_id, "name": joined.name},
        }

    async def stop(self) -> None:
        """Close the window and end the watcher; safe twice."""
        if self.window is not None:
            self.window.close()
        await self._stop_watcher()

    async def _secret(self, caller: Caller) -> MeshSecret:
        me = self._data.identity
        doc_id = directory_id(me.mesh_id)
        author = self._clinic.author(caller)

        def admitting(doc: Doc) -> None:
            ensure_self(doc, self._data, author)
            root = doc.to_dict()
            if me.device_id not in admin_devices(root):
                names = sorted(str(root["devices"][d].get("name")) for d in admin_devices(root))
                raise Forbidden("new devices are paired on an admin device: "
                                + ", ".join(names), field="device")

        await self._documents.update(doc_id, admitting, actor=author.actor)
        return MeshSecret(
            mesh_id=me.mesh_id, facility_id=me.facility_id, facility_name=me.facility_name,
            keys=self._keyring.as_dict(), inviter_id=me.device_id, inviter_name=me.device_name,
            inviter_key=self._data.device_public_key(),
            directory=await self._documents.export(doc_id),
        )

    async def _joined(self, identity: bytes) -> None:
        try:
            joiner = decode_joiner(identity)
        except PairingPayloadError as exc:
            raise PairingProtocolError(exc.message) from None
        caller = self._opened_by or Caller(user="api", origin="pairing")
        author = self._clinic.author(caller)
        doc_id = directory_id(self._data.identity.mesh_id)
        audit = [self._clinic.audit(caller, actions.PAIR_DEVICE, doc_id,
                                    f"{joiner.device_id} {joiner.name}"[:200])]
        try:
            await add_joiner(self._documents, self._data, joiner, author, audit)
        except ClinicMeshError as exc:  # e.g. that device id is on the roster already
            raise PairingProtocolError(f"the new device can't be added: {exc.message}") from None
        self.joined = joiner
        self._changed.set()
        log.info("paired device %s (%s)", joiner.name, joiner.device_id)

    async def _watch(self, window: PairingWindow) -> None:
        """Hold the mDNS pairing flag up while `window` is open."""
        await self._flag(True)
        try:
            while window.state is WindowState.OPEN:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(),
                                           min(WINDOW_POLL_S, window.remaining_s() + 0.01))
        finally:
            await self._flag(False)

    async def _flag(self, open_: bool) -> None:
        if self._set_flag is not None:
            await self._set_flag(open_)

    async def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
