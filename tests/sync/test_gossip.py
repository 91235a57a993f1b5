"""Push, multi-hop gossip, anti-entropy and bulk sync between engines on in-memory links."""

from __future__ import annotations

import itertools

import pytest
from sync_helpers import Mesh, put_entry, wait_until

CHART = "chart:7f0c8a5e-0000-4000-8000-000000000001"


@pytest.mark.asyncio
async def test_concurrent_edits_on_two_devices_converge_to_identical_heads(mesh: Mesh) -> None:
    a, b = mesh.device("a"), mesh.device("b")
    a.docs.edit(CHART, put_entry("genesis", "registered"))
    await mesh.start(a)
    await mesh.start(b, peers=["a"])
    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))

    a.docs.edit(CHART, put_entry("triage", "fever"))
    b.docs.edit(CHART, put_entry("lab", "malaria positive"))

    await wait_until(lambda: set(a.entries(CHART)) == {"genesis", "triage", "lab"})
    await wait_until(lambda: a.heads(CHART) == b.heads(CHART))
    assert a.entries(CHART) == b.entries(CHART)
    assert len(a.heads(CHART) or []) == 2  # two concurrent changes, both kept


@pytest.mark.asyncio
async def test_five_devices_in_a_line_converge_end_to_end(mesh: Mesh) -> None:
    devices = [mesh.device(name) for name in "abcde"]
    await mesh.start(devices[0])
    for before, device in itertools.pairwise(devices):
        await mesh.start(device, peers=[before.name])
    first, last = devices[0], devices[-1]
    await wait_until(lambda: all(len(d.engine.connected_peers()) >= 1 for d in devices))

    first.docs.edit(CHART, put_entry("from-a", "x"))
    last.docs.edit("chart:other", put_entry("from-e", "y"))

    await wait_until(lambda: all(d.heads(CHART) == first.heads(CHART) for d in devices))
    await wait_until(lambda: all(d.heads("chart:other") == last.heads("chart:other")
                                 for d in devices))
    assert "a" not in [p["device_name"] for p in last.engine.status()["peers"]]
    assert last.entries(CHART) == {"from-a": "x"}


@pytest.mark.asyncio
async def test_partition_and_heal_with_edits_on_both_sides_keeps_every_entry(mesh: Mesh) -> None:
    a, b, c = mesh.device("a"), mesh.device("b"), mesh.device("c")
    a.docs.edit(CHART, put_entry("first", "visit"))
    await mesh.start(a)
    await mesh.start(b, peers=["a"])
    await mesh.start(c, peers=["b"])
    await wait_until(lambda: c.heads(CHART) == a.heads(CHART))

    mesh.network.partition(["a"], ["b", "c"])
    await wait_until(lambda: not a.engine.connected_peers())
    for i in range(5):
        a.docs.edit(CHART, put_entry(f"a-{i}", "west wing"))
        c.docs.edit(CHART, put_entry(f"c-{i}", "east wing"))
    c.docs.edit("chart:new-on-c", put_entry("born", "during partition"))
    mesh.network.heal()

    want = {"first"} | {f"a-{i}" for i in range(5)} | {f"c-{i}" for i in range(5)}
    await wait_until(lambda: all(set(d.entries(CHART)) == want for d in (a, b, c)))
    await wait_until(lambda: a.heads("chart:new-on-c") == c.heads("chart:new-on-c"))
    assert a.heads(CHART) == b.heads(CHART) == c.heads(CHART)


@pytest.mark.asyncio
async def test_empty_device_receives_whole_documents_in_bulk_snapshots(mesh: Mesh) -> None:
    full, empty = mesh.device("full"), mesh.device("empty")
    for i in range(300):
        full.docs.edit(f"chart:{i:04d}", put_entry("demographics", f"patient {i}"))
        full.docs.edit(f"chart:{i:04d}", put_entry("vitals", "ok"))
    await mesh.start(full)
    engine = await mesh.start(empty, peers=["full"])

    await wait_until(lambda: len(empty.docs.docs) == 300)
    assert all(empty.heads(d) == full.heads(d) for d in full.docs.docs)
    session = next(iter(engine._sessions.values()))
    assert session.received["Snapshots"] >= 1
    assert session.received["Snapshots"] <= 10  # batched, not one frame per chart
    assert session.received["SyncMessages"] == 0 and session.sent["Want"] == 0
    assert empty.docs.writes <= 10  # one durable write per batch


@pytest.mark.asyncio
async def test_corrupt_chunk_is_quarantined_and_other_docs_keep_syncing(mesh: Mesh) -> None:
    from meshd.sync.ports import DocChange

    a, b = mesh.device("a"), mesh.device("b")
    await mesh.start(a)
    await mesh.start(b, peers=["a"])
    await wait_until(lambda: bool(b.engine.connected_peers()))

    a.docs.announce(DocChange("chart:poison", (), (b"\x01" * 32,), b"\x85o\x4a\x83 not a change"))
    a.docs.edit(CHART, put_entry("after", "still syncing"))

    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))
    assert [(q.doc_id, q.peer_name) for q in b.quarantine] == [("chart:poison", "a")]
    assert "chart:poison" not in b.docs.docs
    assert b.engine.connected_peers() == [a.public.hex()]


@pytest.mark.asyncio
async def test_peer_that_keeps_sending_garbage_is_disconnected_and_backed_off(
    mesh: Mesh,
) -> None:
    from meshd.sync.ports import DocChange

    a, b = mesh.device("a"), mesh.device("b")
    await mesh.start(a)
    await mesh.start(b, peers=["a"])
    await wait_until(lambda: bool(b.engine.connected_peers()))

    for i in range(10):
        a.docs.announce(DocChange(f"chart:bad-{i}", (), (bytes([i]) * 32,), b"garbage"))

    await wait_until(lambda: not b.engine.connected_peers() and not a.engine.connected_peers())
    a.docs.edit(CHART, put_entry("ignored", "while banned"))
    # b keeps dialing a, but a refuses it for the ban: nothing flows while it lasts.
    await wait_until(lambda: len(b.quarantine) >= 5)
    assert CHART not in b.docs.docs
    assert not b.engine.connected_peers()


@pytest.mark.asyncio
async def test_stop_is_safe_twice_and_leaves_no_task(mesh: Mesh) -> None:
    a, b = mesh.device("a"), mesh.device("b")
    await mesh.start(a)
    engine = await mesh.start(b, peers=["a"])
    await wait_until(lambda: bool(engine.connected_peers()))
    await engine.stop()
    await engine.stop()
    assert not engine._tasks
    assert not engine.connected_peers()


@pytest.mark.asyncio
async def test_empty_device_joining_two_full_peers_downloads_once_and_echoes_nothing(
    mesh: Mesh,
) -> None:
    a, b, new = mesh.device("a"), mesh.device("b"), mesh.device("new")
    for i in range(200):
        a.docs.edit(f"chart:{i:04d}", put_entry("demographics", f"patient {i}" * 20))
    await mesh.start(a)
    await mesh.start(b, peers=["a"])
    await wait_until(lambda: len(b.docs.docs) == 200)
    stored = sum(len(d.save()) for d in a.docs.docs.values())

    engine = await mesh.start(new, peers=["a", "b"])
    await wait_until(lambda: len(new.docs.docs) == 200 and len(engine.connected_peers()) == 2)
    peers = engine.status()["peers"]
    assert sum(p["bytes_in"] for p in peers) < 1.5 * stored
    assert sum(p["bytes_out"] for p in peers) < 0.2 * stored


@pytest.mark.asyncio
async def test_forged_actor_sequence_is_quarantined_and_the_chart_keeps_syncing(
    mesh: Mesh,
) -> None:
    from meshd.sync.ports import DocChange

    a, b, m = mesh.device("a"), mesh.device("b"), mesh.device("m")
    a.docs.edit(CHART, put_entry("registered", "yes"))
    await mesh.start(a)
    await mesh.start(b, peers=["a"])
    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))
    # m reuses a's actor id and next sequence number for a different change: a forgery.
    base = list(a.heads(CHART) or [])
    forged_doc = a.docs.docs[CHART].fork(a.docs.actor)
    forged_doc.change(put_entry("forged", "by m"))
    a.docs.edit(CHART, put_entry("genuine", "by a"))
    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))
    await mesh.start(m, peers=["b"])
    await wait_until(lambda: len(m.engine.connected_peers()) == 1)
    m.docs.announce(DocChange(CHART, tuple(base), tuple(forged_doc.heads()),
                              forged_doc.changes_since(base)))

    await wait_until(lambda: len(b.quarantine) >= 1)
    assert b.quarantine[0].doc_id == CHART and b.quarantine[0].peer_name == "m"
    a.docs.edit(CHART, put_entry("after", "the forgery"))
    await wait_until(lambda: b.entries(CHART).get("after") == "the forgery")
    assert "forged" not in b.entries(CHART) and b.heads(CHART) == a.heads(CHART)


@pytest.mark.asyncio
async def test_peer_that_never_reads_does_not_hold_up_the_others(mesh: Mesh) -> None:
    from meshd.sync import handshake

    a, b, stuck = mesh.device("a"), mesh.device("b"), mesh.device("stuck")
    engine = await mesh.start(a)
    await mesh.start(b, peers=["a"])
    link = await mesh.network.transport("stuck").connect("a")
    await handshake.dial(link, mesh.credentials(stuck), timeout_s=5)  # then reads nothing
    await wait_until(lambda: len(engine.connected_peers()) == 2)

    for i in range(2000):
        a.docs.edit(CHART, put_entry(f"obs-{i}", "x" * 200))
    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))
    stuck_status = next(p for p in engine.status()["peers"] if p["device_name"] == "stuck")
    assert stuck_status["connected"] and stuck_status["docs_pending_out"] <= 600
    await link.close()
