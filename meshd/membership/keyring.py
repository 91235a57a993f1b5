"""The mesh keys this device holds, by epoch, and adopting a newer one from the directory.

A revocation stores the new key in `directory:<mesh>`, sealed to every remaining device (see
`roster.revoke`). Each device, whenever the directory changes, opens the sealed keys given to
it and adopts every epoch it did not hold; the handshake then dials with the newest. When two
devices rotated to the same epoch concurrently, every device picks the rotation of the lowest
device id among those it can open, so devices sealed to by both agree.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model import directory
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from meshd.docs import Documents
from meshd.identity import DataDir, write_keyring
from meshd.membership.sealing import SealError, open_mesh_key, seal_context

log = logging.getLogger(__name__)


class Keyring:
    """The mesh keys by epoch; saved to the data dir (0600) whenever one is added."""

    def __init__(self, path: Path, keys: dict[int, bytes], seal_with: bytes | None = None, *,
                 on_new_epoch: Callable[[int], None] | None = None) -> None:
        self.path = path
        self._seal_with = seal_with  # the data dir's sealing key, when it has a passphrase
        self._keys = dict(keys)
        self._newest_first = self._ordered()
        self._on_new_epoch = on_new_epoch

    @classmethod
    def of(cls, data: DataDir, *, on_new_epoch: Callable[[int], None] | None = None) -> Keyring:
        """The keyring a data dir holds; `on_new_epoch(epoch)` hears of every key adopted."""
        return cls(data.path, dict(data.mesh_keys) or {data.mesh_epoch: data.mesh_key},
                   data.sealing_key, on_new_epoch=on_new_epoch)

    def entries(self) -> tuple[tuple[int, bytes], ...]:
        """(epoch, key), newest first: what the handshake reads."""
        return self._newest_first

    @property
    def epoch(self) -> int:
        """The newest epoch held."""
        return self._newest_first[0][0]

    def key(self, epoch: int) -> bytes | None:
        """The key of `epoch`, if held."""
        return self._keys.get(epoch)

    def as_dict(self) -> dict[int, bytes]:
        """A copy of every key by epoch."""
        return dict(self._keys)

    def add(self, new: dict[int, bytes]) -> bool:
        """Hold these keys too (keys already held are kept); saved at once; whether any was new."""
        fresh = {epoch: key for epoch, key in new.items() if epoch not in self._keys}
        if not fresh:
            return False
        self._keys.update(fresh)
        write_keyring(self.path, self._keys, self._seal_with)
        self._newest_first = self._ordered()
        if self._on_new_epoch is not None:
            self._on_new_epoch(self.epoch)
        return True

    def _ordered(self) -> tuple[tuple[int, bytes], ...]:
        return tuple(sorted(self._keys.items(), reverse=True))


def keys_sealed_to(
    record: dict[str, Any], device_id: str, device_key: Ed25519PrivateKey, mesh_id: str,
    held: Collection[int] = (),
) -> dict[int, bytes]:
    """Every mesh key in a device record that opens with this device's key, by epoch, except
    the epochs already `held`."""
    found: dict[int, bytes] = {}
    # Sorted by (epoch, rotator): the first rotator that opens wins each epoch.
    for epoch, rotator, blob in directory.sealed_keys(record):
        if epoch in found or epoch in held:
            continue
        try:
            context = seal_context(mesh_id, epoch, rotator, device_id)
            found[epoch] = open_mesh_key(bytes.fromhex(blob), device_key, context)
        except (SealError, ValueError):
            log.warning("a mesh key of epoch %d from %s does not open here", epoch, rotator)
    return found


class KeyAdopter:
    """Follows `directory:<mesh>` and adopts every newer mesh key sealed to this device."""

    def __init__(self, documents: Documents, data: DataDir, keyring: Keyring) -> None:
        self._documents = documents
        self._data = data
        self._keyring = keyring
        self._doc_id = directory_id(data.identity.mesh_id)
        self._unsubscribe = documents.subscribe(self._heard)
        self._lock = asyncio.Lock()

    async def check(self) -> bool:
        """Read the directory and adopt what it holds for this device; whether a key was new."""
        me = self._data.identity
        async with self._lock:
            try:
                record = await self._documents.read(
                    self._doc_id, lambda doc: directory.devices(doc).get(me.device_id, {})
                )
            except ClinicMeshError as exc:
                log.debug("no directory to adopt keys from: %s", exc)
                return False
            found = keys_sealed_to(record, me.device_id, self._data.device_key, me.mesh_id,
                                   held=self._keyring.as_dict().keys())
            if not self._keyring.add(found):
                return False
        log.info("adopted mesh key epoch %d", self._keyring.epoch)
        return True

    async def _heard(self, doc_id: str, heads: tuple[bytes, ...], origin: str) -> None:
        if doc_id == self._doc_id:
            await self.check()

    def close(self) -> None:
        """Stop following the directory."""
        self._unsubscribe()
