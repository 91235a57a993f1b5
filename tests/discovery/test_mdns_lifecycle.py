"""MeshDiscovery in one process on this machine's own network (the real test is in netns)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from discovery.hints import PeerHint
from discovery.mdns import MeshDiscovery
from discovery.netaddrs import local_addresses

pytestmark = pytest.mark.skipif(
    not local_addresses(), reason="needs a network interface other than loopback"
)


@pytest.mark.asyncio
async def test_two_devices_of_one_mesh_find_each_other_and_see_the_pairing_flag() -> None:
    mesh = secrets.token_hex(8)  # so concurrent runs on this host don't see each other
    seen: asyncio.Queue[PeerHint] = asyncio.Queue()
    lost: list[str] = []
    gone = asyncio.Event()

    def on_lost(device: str) -> None:
        lost.append(device)
        gone.set()

    a = MeshDiscovery(
        device_short_id=f"a-{mesh[:6]}", port=7701, mesh_id=mesh, on_peer=seen.put_nowait,
        on_peer_lost=on_lost,
    )  # fmt: skip
    b = MeshDiscovery(device_short_id=f"b-{mesh[:6]}", port=7702, mesh_id=mesh, on_peer=print)
    before = asyncio.all_tasks()
    async with a, b:
        assert a.started.is_set() and b.started.is_set()
        async with asyncio.timeout(10):
            hint = await seen.get()
            assert hint.device_short_id == b.device_short_id and hint.port == 7702
            assert not hint.pairing
            assert {x.split("%")[0] for x in hint.addresses} <= set(local_addresses())
            await b.set_pairing(True)
            while not hint.pairing:
                hint = await seen.get()
        await b.stop()
        await b.stop()  # twice is safe
        await asyncio.wait_for(gone.wait(), 10)  # b's goodbye packet
        assert lost == [b.device_short_id] and b.device_short_id not in a.peers
    await a.stop()
    assert asyncio.all_tasks() <= before


@pytest.mark.asyncio
async def test_a_device_without_a_mesh_advertises_nothing_and_can_start_again() -> None:
    newcomer = MeshDiscovery(device_short_id="new-tablet", port=7701, mesh_id=None, on_peer=print)
    for _ in range(2):
        async with newcomer:
            assert newcomer.addresses == () and newcomer.mesh_hash is None
        assert not newcomer.started.is_set()
