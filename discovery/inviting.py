"""Finding the devices nearby that show a pairing code, for a new device that has only the code.

A new device has no mesh yet: it browses `_clinicmesh._tcp` (advertising nothing) and keeps the
devices whose TXT record says a pairing window is open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from discovery.hints import PeerHint

# discovery.mdns (zeroconf, ~4 MB resident) is imported when a device looks for inviters, so
# a running node that imports the joining code for its CLI verbs does not load it.


async def find_inviting_device(
    *, device_short_id: str, timeout_s: float, include_loopback: bool = False
) -> PeerHint:
    """The first device on the LAN with an open pairing window; TimeoutError after timeout_s.

    For a new device (no mesh yet) that was given only the 6-digit code.
    """
    async with contextlib.aclosing(inviting_devices(
        device_short_id=device_short_id, timeout_s=timeout_s, quiet_s=0.0,
        include_loopback=include_loopback,
    )) as hints:
        async for hint in hints:
            return hint
    raise TimeoutError(f"no device showed a pairing code within {timeout_s} s")


async def inviting_devices(
    *, device_short_id: str, timeout_s: float, quiet_s: float, include_loopback: bool = False
) -> AsyncGenerator[PeerHint]:
    """Each device on the LAN with an open pairing window, once, as it is heard.

    Waits up to `timeout_s` for the first; after each one, up to `quiet_s` for another, then
    ends. For a new device trying its code on every device that shows one.
    """
    from discovery.mdns import MeshDiscovery

    found: asyncio.Queue[PeerHint] = asyncio.Queue()
    seen: set[str] = set()

    def on_peer(hint: PeerHint) -> None:
        if hint.pairing and hint.device_short_id not in seen:
            seen.add(hint.device_short_id)
            found.put_nowait(hint)

    async with MeshDiscovery(
        device_short_id=device_short_id, port=0, mesh_id=None, on_peer=on_peer,
        include_loopback=include_loopback,
    ):
        wait_s = timeout_s
        while True:
            try:
                hint = await asyncio.wait_for(found.get(), wait_s)
            except TimeoutError:
                return
            yield hint
            wait_s = quiet_s


async def list_inviting_devices(
    *, device_short_id: str, listen_s: float, include_loopback: bool = False
) -> list[PeerHint]:
    """Every device on the LAN with an open pairing window, heard within `listen_s`.

    For a new device choosing whom to join when more than one device offers a code.
    """
    from discovery.mdns import MeshDiscovery

    found: dict[str, PeerHint] = {}

    def on_peer(hint: PeerHint) -> None:
        if hint.pairing:
            found[hint.device_short_id] = hint

    async with MeshDiscovery(device_short_id=device_short_id, port=0, mesh_id=None,
                             on_peer=on_peer, include_loopback=include_loopback):
        await asyncio.sleep(listen_s)  # mDNS answers trickle in: listening is the point
    return sorted(found.values(), key=lambda hint: hint.device_short_id)
