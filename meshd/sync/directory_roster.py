"""The mesh roster as sync uses it, read from `directory:<mesh>`.

The roster (device keys allowed to sync) is every device there that is not revoked, plus this
device. It is kept current as that document changes, so a revocation takes effect for new
sessions at once. A device rostered by an invite is pending: no node accepts its key; only its
inviter admits it, once, before the invite expires, and then writes the device's own key in
place of the invite's. The roster also says whose keys sign whose changes (meshd.attest).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from crdt_model import directory
from crdt_model.context import Author
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from meshd.attest import Vouching, device_prefix, keys_by_device
from meshd.docs import Documents
from meshd.store.base import AuditEvent

log = logging.getLogger(__name__)

_KEY_HEX_CHARS = 64
ROSTER_USER = "system"


@dataclass(frozen=True, slots=True)
class PendingInvite:
    """A device rostered by an invite it has not used yet."""

    device_id: str
    expires_at_ms: int
    inviter_id: str


def _nothing() -> None:
    """The default roster listener."""


class DirectoryRoster:
    """The mesh roster from the directory document, refreshed whenever it changes; `on_change`
    is called when the set of allowed keys changed."""

    def __init__(self, documents: Documents, mesh_id: str, own_key: bytes, device_id: str, *,
                 on_change: Callable[[], None] = _nothing,
                 on_window: Callable[[], None] = _nothing,
                 clock: Callable[[], float] = time.time) -> None:
        self._on_change = on_change
        self._on_window = on_window  # a window for history from before signing opened
        self.writes: set[asyncio.Task[None]] = set()
        self._documents = documents
        self._doc_id = directory_id(mesh_id)
        self._own_key = own_key
        self._device_id = device_id
        self._clock = clock
        self._keys: frozenset[bytes] = frozenset({own_key})
        self._pending: dict[bytes, PendingInvite] = {}
        self._signers: dict[bytes, set[bytes]] = {device_prefix(device_id): {own_key}}
        self.vouching = Vouching()  # who may vouch for history from before signing, until when
        # Admitted here: invite key -> own key, until (and after) the directory says so.
        self._admitted: dict[bytes, bytes] = {}
        self._unsubscribe = documents.subscribe(self._heard)

    def signers(self, device_prefix: bytes) -> set[bytes]:
        """The keys that may sign changes of the device an actor id names (meshd.attest)."""
        return self._signers.get(device_prefix, set())

    def __call__(self) -> frozenset[bytes]:
        """The device keys currently allowed to sync."""
        return self._keys

    async def refresh(self) -> None:
        """Re-read the directory document."""
        try:
            devices, window = await self._documents.read(
                self._doc_id, lambda doc: (directory.devices(doc), directory.signing_window(doc)))
        except ClinicMeshError as exc:
            log.warning("cannot read the mesh roster: %s", exc)
            return
        keys, pending = {self._own_key}, {}
        signers = keys_by_device(devices)  # whose signatures prove changes (meshd.attest)
        signers.setdefault(device_prefix(self._device_id), set()).add(self._own_key)
        for device_id, device in devices.items():
            key = _key(device.get("public_key"))
            if device.get("revoked_at") is not None or key is None:
                continue
            expires = device.get("invite_expires_at")
            if isinstance(expires, int) and device.get("invite_used_at") is None:
                if key in self._admitted:  # enrolled here; the directory write is on its way
                    keys.add(self._admitted[key])
                    signers[device_prefix(device_id)].add(self._admitted[key])
                else:
                    pending[key] = PendingInvite(device_id, expires, str(device.get("added_by")))
                continue
            keys.add(key)
            spent = _key(device.get("invite_key"))
            if spent is not None:
                self._admitted.setdefault(spent, key)
        changed = keys != self._keys
        self._keys, self._pending, self._signers = frozenset(keys), pending, signers
        opened = window != self.vouching.until_ms
        self.vouching.keys, self.vouching.until_ms = frozenset(keys), window
        if changed:
            self._on_change()
        if opened:
            self._on_window()  # what waited for it is asked for again now

    def admit(self, invite: bytes, own: bytes) -> bool:
        """Enrol a device by its invite's key (for the handshake): only this device's own
        unexpired invites, once; True if `own` may now sync (again, for the same own key)."""
        if invite in self._admitted:
            return self._admitted[invite] == own  # a retry whose answer was lost
        pending = self._pending.get(invite)
        if pending is None or pending.inviter_id != self._device_id:
            return False  # not ours to admit: its inviter does, or nobody (used, unknown)
        now_ms = int(self._clock() * 1000)
        if now_ms >= pending.expires_at_ms:
            log.info("refused expired invite of device %s", pending.device_id)
            return False
        del self._pending[invite]
        self._admitted[invite] = own
        self._keys = self._keys | {own}
        self._signers.setdefault(device_prefix(pending.device_id), set()).add(own)
        task = asyncio.get_running_loop().create_task(self._enrol(pending, invite, own, now_ms))
        self.writes.add(task)
        task.add_done_callback(self.writes.discard)
        return True

    async def _enrol(self, pending: PendingInvite, invite: bytes, own: bytes, now_ms: int) -> None:
        author = Author(self._device_id, ROSTER_USER, now_ms)
        audit = [AuditEvent(now_ms, ROSTER_USER, "enrol_device", self._doc_id, own.hex(),
                            pending.device_id)]
        try:
            await self._documents.update(
                self._doc_id, lambda doc: directory.enrol_device(
                    doc, pending.device_id, invite.hex(), own.hex(), author),
                audit, actor=author.actor)
        except ClinicMeshError as exc:
            log.warning("cannot record the enrolment of device %s: %s", pending.device_id, exc)
        else:
            log.info("device %s used its invite", pending.device_id)

    async def _heard(self, doc_id: str, heads: tuple[bytes, ...], origin: str) -> None:
        if doc_id == self._doc_id:
            await self.refresh()

    def close(self) -> None:
        """Stop following the directory."""
        self._unsubscribe()


def _key(value: object) -> bytes | None:
    """A raw device key from its hex in the directory, or None when it is not one."""
    if isinstance(value, str) and len(value) == _KEY_HEX_CHARS:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return None
    return None
