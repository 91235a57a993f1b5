"""A mesh bigger than the session bound: each device keeps a bounded number of sessions, changes
spread by gossip along a tree (pushed once per device, announced lazily elsewhere), devices that
drop out are routed around, and a small mesh still dials everyone and pushes to all."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from sync_helpers import QUICK, Device, Mesh, put_entry, wait_until

from meshd.sync import SyncEngine
from meshd.sync.peering import PeerChoice, subnet_of
from meshd.sync.timing import SyncTiming

CHART = "chart:7f0c8a5e-0000-4000-8000-0000000000aa"


async def start_bounded(mesh: Mesh, device: Device, max_sessions: int, seed: int,
                        peers: tuple[str, ...] = (), timing: SyncTiming = QUICK) -> SyncEngine:
    engine = SyncEngine(mesh.credentials(device), device.docs, mesh.network.transport(device.name),
                        peers=peers, timing=timing, max_sessions=max_sessions,
                        rng=random.Random(seed))
    device.engine = engine
    await engine.start()
    return engine


async def discovered_mesh(mesh: Mesh, count: int, max_sessions: int,
                          timing: SyncTiming = QUICK) -> list[Device]:
    """`count` devices, each told of every other (as mDNS does on a LAN)."""
    devices = [mesh.device(f"dev-{i}") for i in range(count)]
    engines = [await start_bounded(mesh, d, max_sessions, seed=i, timing=timing)
               for i, d in enumerate(devices)]
    for engine in engines:
        for other in devices:
            engine.add_peer(other.name)
    return devices


def sessions(device: Device) -> int:
    assert device.engine is not None
    return len(device.engine.connected_peers())


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_thirty_devices_keep_at_most_their_bound_and_every_change_reaches_all(
    mesh: Mesh,
) -> None:
    # Pushes are counted: no periodic anti-entropy round (every 0.5 s in QUICK) may repair a
    # device the change is still on its way to, as one did on a loaded machine (67 pushes).
    devices = await discovered_mesh(mesh, 30, max_sessions=6,
                                    timing=replace(QUICK, anti_entropy_interval_s=600.0))
    await wait_until(lambda: all(sessions(d) >= 2 for d in devices))
    devices[0].docs.edit(CHART, put_entry("registered", "yes"))
    await wait_until(lambda: all(d.heads(CHART) == devices[0].heads(CHART) for d in devices))

    rng = random.Random(3)
    for i in range(8):  # the first edits prune the links that bring a change twice
        writer = rng.choice(devices)
        writer.docs.edit(CHART, put_entry(f"warm-{i}", writer.name))
        await wait_until(lambda: all(d.heads(CHART) == writer.heads(CHART)  # noqa: B023
                                     for d in devices))
        assert max(sessions(d) for d in devices) <= 6
    pruned = sum(d.engine.frames_sent()["Prune"] for d in devices if d.engine is not None)
    assert pruned > 0

    pushes_before = sum(d.engine.frames_sent()["Changes"] for d in devices if d.engine)
    writer = devices[17]
    writer.docs.edit(CHART, put_entry("measured", "one change"))
    await wait_until(lambda: all(d.entries(CHART).get("measured") == "one change"
                                 for d in devices))
    pushes = sum(d.engine.frames_sent()["Changes"] for d in devices if d.engine) - pushes_before
    # A flood would push it over every link (about 60 here), minus the one it came by.
    assert pushes < 2 * 29
    assert max(sessions(d) for d in devices) <= 6


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_devices_that_drop_out_are_routed_around(mesh: Mesh) -> None:
    devices = await discovered_mesh(mesh, 30, max_sessions=6)
    await wait_until(lambda: all(sessions(d) >= 2 for d in devices))
    devices[0].docs.edit(CHART, put_entry("registered", "yes"))
    await wait_until(lambda: all(d.heads(CHART) == devices[0].heads(CHART) for d in devices))
    for i in range(4):
        devices[i].docs.edit(CHART, put_entry(f"warm-{i}", "x"))
    await wait_until(lambda: all(len(d.entries(CHART)) == 5 for d in devices))

    gone = random.Random(5).sample(devices[1:], 6)
    for device in gone:
        assert device.engine is not None
        await device.engine.stop()
    alive = [d for d in devices if d not in gone]
    want = len(devices[0].entries(CHART)) + len(alive[::5])
    for i, writer in enumerate(alive[::5]):
        writer.docs.edit(CHART, put_entry(f"after-{i}", writer.name))
    await wait_until(lambda: all(len(d.entries(CHART)) == want for d in alive), timeout_s=15)
    # The lost sessions are replaced with live devices, within the bound.
    await wait_until(lambda: all(2 <= sessions(d) <= 6 for d in alive), timeout_s=15)


@pytest.mark.asyncio
async def test_a_mesh_within_the_bound_dials_everyone_and_pushes_to_all(mesh: Mesh) -> None:
    devices = await discovered_mesh(mesh, 5, max_sessions=8)
    await wait_until(lambda: all(sessions(d) == 4 for d in devices))
    devices[0].docs.edit(CHART, put_entry("registered", "yes"))
    await wait_until(lambda: all(d.heads(CHART) == devices[0].heads(CHART) for d in devices))
    for i, writer in enumerate(devices):
        writer.docs.edit(CHART, put_entry(f"from-{i}", writer.name))
    await wait_until(lambda: all(len(d.entries(CHART)) == 6 for d in devices))
    for device in devices:
        assert device.engine is not None
        sent = device.engine.frames_sent()
        assert sent["Prune"] == sent["IHave"] == 0  # as before the bound: push to everyone
        assert all(s.gossip.eager for s in device.engine.sessions())


@pytest.mark.asyncio
async def test_a_full_device_refuses_a_session_and_says_it_is_busy(mesh: Mesh) -> None:
    hub = mesh.device("hub")
    await start_bounded(mesh, hub, max_sessions=2, seed=1)
    dialers = [mesh.device(f"ward-{i}") for i in range(3)]
    assert hub.engine is not None
    for device in dialers:  # the hub hears of more devices than its bound: a big mesh
        hub.engine.add_peer(device.name)
    for i, device in enumerate(dialers):
        await start_bounded(mesh, device, max_sessions=2, seed=10 + i, peers=("hub",))
    await wait_until(lambda: hub.engine.frames_sent()["Busy"] >= 1)  # type: ignore[union-attr]
    await wait_until(lambda: sessions(hub) == 2 and sum(sessions(d) for d in dialers) == 2)
    # The refused device's session ended at once; the hub never held more than its bound.
    hub.docs.edit(CHART, put_entry("from", "hub"))
    await wait_until(lambda: sum(bool(d.entries(CHART)) for d in dialers) == 2)
    assert sessions(hub) == 2


def test_a_big_mesh_dials_a_third_of_the_bound_preferring_other_subnets() -> None:
    choice = PeerChoice(8, random.Random(1), retry_min_s=0.5, retry_max_s=30.0)
    for i in range(20):
        choice.add(f"10.0.{i % 2}.{10 + i}:7701")
    assert not choice.small and choice.dial_target == 3
    first = choice.to_dial(0, [], now_s=0.0)
    assert len(first) == 3
    assert {subnet_of(a) for a in first[:2]} == {"10.0.0", "10.0.1"}
    assert choice.to_dial(0, [], now_s=0.0) == []  # those are being dialed
    choice.ended(first[0], ran_s=None, now_s=1.0)  # failed: backs off, another is chosen
    again = choice.to_dial(2, first[1:], now_s=1.0)
    assert len(again) == 1 and again[0] not in first


def test_a_small_mesh_dials_every_known_peer_and_pinned_ones_always() -> None:
    choice = PeerChoice(8, random.Random(1), retry_min_s=0.5, retry_max_s=30.0)
    for i in range(8):
        choice.add(f"clinic-{i}")
    assert choice.small
    assert len(choice.to_dial(0, [], now_s=0.0)) == 8
    big = PeerChoice(2, random.Random(1), retry_min_s=0.5, retry_max_s=30.0)
    big.add("relay", pinned=True)
    for i in range(5):
        big.add(f"clinic-{i}")
    assert "relay" in big.to_dial(0, [], now_s=0.0)
