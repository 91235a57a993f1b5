"""Helpers for sync tests: devices on an in-memory network or real loopback sockets."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model.adapter import Tx
from meshd.sync import Credentials, QuarantineRecord, SyncEngine, SyncTiming
from meshd.sync.crypto import public_bytes
from meshd.sync.fakes import MemoryDocuments, MemoryNetwork
from meshd.sync.ports import Transport
from meshd.sync.websocket import WebSocketTransport

QUICK = SyncTiming(
    anti_entropy_interval_s=0.5, handshake_timeout_s=2.0, reconnect_min_s=0.02,
    reconnect_max_s=0.2, misbehaving_ban_s=60.0,
)
WAIT_S = 20.0


async def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Wait (bounded) until `condition()` holds; fail the test if it never does."""
    async with asyncio.timeout(timeout_s):
        # Conditions span several engines and documents; polling them is simplest, and bounded.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = WAIT_S) -> None:
    """Like wait_until, for a condition that has to await (e.g. a store read)."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def put_entry(entry_id: str, value: str) -> Callable[[Tx], None]:
    """A change that adds one entry to the `entries` map (created with the document)."""

    def build(tx: Tx) -> None:
        if not tx.exists((), "entries"):
            tx.put((), "entries", {})
        tx.put(("entries",), entry_id, value)

    return build


@dataclass
class Device:
    """One device under test: its documents, engine and quarantine records."""

    name: str
    key: Ed25519PrivateKey
    docs: MemoryDocuments
    engine: SyncEngine | None = None
    quarantine: list[QuarantineRecord] = field(default_factory=list)

    @property
    def public(self) -> bytes:
        return public_bytes(self.key)

    def heads(self, doc_id: str) -> list[bytes] | None:
        doc = self.docs.docs.get(doc_id)
        return None if doc is None else doc.heads()

    def entries(self, doc_id: str) -> dict[str, object]:
        doc = self.docs.docs.get(doc_id)
        value = None if doc is None else doc.get(("entries",))
        return value if isinstance(value, dict) else {}


@dataclass
class Mesh:
    """Devices sharing a mesh key and roster, started on a chosen transport."""

    mesh_key: bytes = field(default_factory=lambda: os.urandom(32))
    roster: set[bytes] = field(default_factory=set)
    devices: list[Device] = field(default_factory=list)
    network: MemoryNetwork = field(default_factory=MemoryNetwork)

    def device(self, name: str, *, rostered: bool = True) -> Device:
        key = Ed25519PrivateKey.generate()
        device = Device(name, key, MemoryDocuments(os.urandom(16)))
        if rostered:
            self.roster.add(device.public)
        self.devices.append(device)
        return device

    def credentials(self, device: Device, mesh_key: bytes | None = None) -> Credentials:
        return Credentials(device.key, device.name, mesh_key or self.mesh_key, lambda: self.roster)

    async def start(
        self, device: Device, peers: Sequence[str] = (), *, transport: Transport | None = None,
        mesh_key: bytes | None = None,
    ) -> SyncEngine:
        engine = SyncEngine(
            self.credentials(device, mesh_key), device.docs,
            transport or self.network.transport(device.name), peers=peers, timing=QUICK,
            on_quarantine=device.quarantine.append,
        )
        device.engine = engine
        await engine.start()
        return engine

    async def start_socket(
        self, device: Device, peers: Sequence[str] = (), mesh_key: bytes | None = None
    ) -> SyncEngine:
        transport = WebSocketTransport("127.0.0.1", 0, heartbeat_s=5.0)
        return await self.start(device, peers, transport=transport, mesh_key=mesh_key)

    async def stop(self) -> None:
        for device in self.devices:
            if device.engine is not None:
                await device.engine.stop()
