"""mDNS in the node: advertise this device on its peer port and dial the peers of its mesh.

A hint is never trust: the engine dials the address and the handshake decides. Addresses follow
network changes (MeshDiscovery re-advertises and re-reports); a peer reported at a new address is
dialed there too. If mDNS can't start (no multicast-capable interface), the node runs without it.
"""

from __future__ import annotations

import logging

from discovery.hints import PeerHint
from discovery.static import StaticPeer
from meshd.sync.engine import SyncEngine

log = logging.getLogger(__name__)

SHORT_ID_CHARS = 12


def short_device_id(device_id: str) -> str:
    """The device id as mDNS advertises it: 12 hex characters of the UUID (a DNS label)."""
    return device_id.replace("-", "").lower()[:SHORT_ID_CHARS]


def dial_address(hint: PeerHint) -> str | None:
    """The HOST:PORT to dial for a hint: its first address (IPv4 before IPv6)."""
    for address in hint.addresses:
        if ":" in address and "%" not in address and address.lower().startswith("fe80:"):
            continue  # a link-local IPv6 address is useless without its interface
        return str(StaticPeer(address, hint.port))
    return None


class MeshPeerFinder:
    """Advertises this device and hands every peer of its mesh seen over mDNS to the engine."""

    def __init__(self, engine: SyncEngine, device_id: str, mesh_id: str, peer_port: int) -> None:
        self._engine = engine
        # Imported here: zeroconf (~4 MB resident) is loaded only by a node that runs mDNS.
        from discovery.mdns import MeshDiscovery

        self.dialed: dict[str, str] = {}  # device short id -> address last handed to the engine
        self.discovery = MeshDiscovery(
            device_short_id=short_device_id(device_id), port=peer_port, mesh_id=mesh_id,
            on_peer=self._on_peer,
        )

    async def start(self) -> bool:
        """Start advertising and browsing; whether mDNS could start."""
        try:
            await self.discovery.start()
        except OSError as exc:
            log.warning("mDNS is unavailable (%s): dial peers with --peer", exc)
            return False
        log.info("mDNS: advertising %s", self.discovery.device_short_id)
        return True

    async def set_pairing(self, open_: bool) -> None:
        """Advertise whether this device shows a pairing code now."""
        await self.discovery.set_pairing(open_)

    async def stop(self) -> None:
        """Say goodbye and stop browsing; safe twice."""
        await self.discovery.stop()

    def _on_peer(self, hint: PeerHint) -> None:
        address = dial_address(hint)
        if address is None or self.dialed.get(hint.device_short_id) == address:
            return
        log.info("mDNS: found peer %s at %s", hint.device_short_id, address)
        self.dialed[hint.device_short_id] = address
        # The engine keeps this dial alive with backoff; an address the peer no longer has
        # costs one failed attempt per backoff period (at most 30 s) until the node restarts.
        self._engine.add_peer(address)
