"""Real sockets on 127.0.0.1: sessions converge, strangers and tampering get nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sync_helpers import Device, Mesh, put_entry, wait_until

from crdt_model.errors import SyncError
from meshd import wire
from meshd.sync import handshake
from meshd.sync.handshake import SecureChannel
from meshd.sync.ports import Link, LinkClosed
from meshd.sync.websocket import PEER_PATH, WebSocketLink, WebSocketTransport

CHART = "chart:11111111-2222-4333-8444-555555555555"


@contextlib.asynccontextmanager
async def raw_link(address: str) -> AsyncIterator[WebSocketLink]:
    """A bare WebSocket link to a peer port, with no engine behind it."""
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(f"http://{address}{PEER_PATH}", max_msg_size=0)
        link = WebSocketLink(ws, address, lambda _: None)
        try:
            yield link
        finally:
            await link.close()


async def _closed_by_peer(link: WebSocketLink) -> bool:
    """Whether the peer closes the link within 5 s (frames it sends meanwhile are skipped)."""
    try:
        async with asyncio.timeout(5):
            while True:
                await link.receive()
    except LinkClosed:
        return True
    except TimeoutError:
        return False


@pytest.mark.asyncio
async def test_two_devices_converge_over_websockets(mesh: Mesh) -> None:
    a, b = mesh.device("a"), mesh.device("b")
    a.docs.edit(CHART, put_entry("registration", "done"))
    server = await mesh.start_socket(a)
    await mesh.start_socket(b, peers=[server.address])
    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))
    b.docs.edit(CHART, put_entry("triage", "done"))
    await wait_until(lambda: a.heads(CHART) == b.heads(CHART))
    peer = server.status()["peers"][0]
    assert peer["connected"] and peer["device_name"] == "b"
    assert peer["bytes_in"] > 0 and peer["bytes_out"] > 0


@pytest.mark.parametrize("stranger", ["wrong mesh key", "unrostered device"])
@pytest.mark.asyncio
async def test_stranger_gets_nothing_and_changes_nothing(mesh: Mesh, stranger: str) -> None:
    a = mesh.device("a")
    a.docs.edit(CHART, put_entry("allergy", "penicillin"))
    before = a.heads(CHART)
    server = await mesh.start_socket(a)
    x = mesh.device("x", rostered=stranger != "unrostered device")
    x.docs.edit("chart:forged", put_entry("fake", "entry"))
    mesh_key = os.urandom(32) if stranger == "wrong mesh key" else None

    await mesh.start_socket(x, peers=[server.address], mesh_key=mesh_key)
    await wait_until(lambda: server.refused >= 2)  # it kept trying, and was refused each time

    assert x.docs.docs.keys() == {"chart:forged"}
    assert a.docs.docs.keys() == {CHART} and a.heads(CHART) == before
    assert not server.connected_peers() and not x.engine.connected_peers()  # type: ignore[union-attr]
    # What a stranger sees of the listener: its ephemeral key, never its identity.
    async with raw_link(server.address) as link:
        with pytest.raises((SyncError, LinkClosed)):
            await handshake.dial(link, mesh.credentials(x, mesh_key), timeout_s=5)


async def _authenticated(mesh: Mesh, device: Device, address: str, link: WebSocketLink
                         ) -> SecureChannel:
    return await handshake.dial(link, mesh.credentials(device), timeout_s=5)


@pytest.mark.asyncio
async def test_replayed_frame_is_rejected_and_the_session_dropped(mesh: Mesh) -> None:
    a, m = mesh.device("a"), mesh.device("m")
    server = await mesh.start_socket(a)
    m.docs.edit(CHART, put_entry("note", "first"))
    change = wire.Changes((wire.ChangeItem(
        CHART, (), tuple(m.heads(CHART) or ()), m.docs.docs[CHART].changes_since([])),))
    async with raw_link(server.address) as link:
        channel = await _authenticated(mesh, m, server.address, link)
        frame = channel._sealer.seal(wire.encode(change))
        await link.send(frame)
        await wait_until(lambda: a.heads(CHART) == m.heads(CHART))
        await link.send(frame)  # captured and replayed
        assert await _closed_by_peer(link)
    assert a.entries(CHART) == {"note": "first"}


@pytest.mark.asyncio
async def test_bit_flipped_frame_is_rejected_and_changes_nothing(mesh: Mesh) -> None:
    a, m = mesh.device("a"), mesh.device("m")
    server = await mesh.start_socket(a)
    m.docs.edit(CHART, put_entry("note", "tampered?"))
    change = wire.Changes((wire.ChangeItem(
        CHART, (), tuple(m.heads(CHART) or ()), m.docs.docs[CHART].changes_since([])),))
    async with raw_link(server.address) as link:
        channel = await _authenticated(mesh, m, server.address, link)
        frame = bytearray(channel._sealer.seal(wire.encode(change)))
        frame[len(frame) // 2] ^= 0x04
        await link.send(bytes(frame))
        assert await _closed_by_peer(link)
    assert CHART not in a.docs.docs


@pytest.mark.asyncio
async def test_a_peer_that_gives_up_during_the_upgrade_is_a_closed_link(
    mesh: Mesh, caplog: pytest.LogCaptureFixture,
) -> None:
    a = mesh.device("a")
    server = await mesh.start_socket(a)
    host, port = server.address.rsplit(":", 1)
    upgrade = (
        f"GET {PEER_PATH} HTTP/1.1\r\nHost: {server.address}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    for _ in range(30):  # a paused peer's dial times out: it resets the connection at once
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(upgrade)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    b = mesh.device("b")
    a.docs.edit(CHART, put_entry("registration", "done"))
    await mesh.start_socket(b, peers=[server.address])
    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]
    assert not tracebacks, tracebacks[0].getMessage()


@pytest.mark.asyncio
async def test_a_frame_of_many_pieces_crosses_once_authenticated(mesh: Mesh) -> None:
    a, b = mesh.device("a"), mesh.device("b")
    a.docs.edit(CHART, put_entry("note", "x" * 300_000))  # about five pieces
    server = await mesh.start_socket(a)
    await mesh.start_socket(b, peers=[server.address])
    await wait_until(lambda: b.heads(CHART) == a.heads(CHART))
    assert b.entries(CHART) == {"note": "x" * 300_000}


@pytest.mark.asyncio
async def test_a_frame_of_many_pieces_before_the_handshake_is_refused(mesh: Mesh) -> None:
    a = mesh.device("a")
    server = await mesh.start_socket(a)
    async with raw_link(server.address) as link:
        await link.send(bytes(200_000))  # pieces, but nobody has authenticated
        assert await _closed_by_peer(link)
    await wait_until(lambda: server.refused >= 1)


async def _next_frames(link: Link, count: int) -> list[bytes]:
    async with asyncio.timeout(20):
        return [await link.receive() for _ in range(count)]


@contextlib.asynccontextmanager
async def _linked(heartbeat_s: float = 15.0) -> AsyncIterator[tuple[Link, Link]]:
    """Two ends of one real WebSocket link (dialer, listener), authenticated by fiat: the
    handshake is not what these tests are about."""
    accepted: asyncio.Queue[Link] = asyncio.Queue()
    done = asyncio.Event()

    async def on_link(link: Link) -> None:
        await accepted.put(link)
        await done.wait()  # the link lives as long as its session would

    server = WebSocketTransport("127.0.0.1", 0, heartbeat_s=heartbeat_s)
    client = WebSocketTransport("127.0.0.1", 0, heartbeat_s=heartbeat_s)
    await server.start(on_link)
    await client.start(on_link)
    try:
        dialer = await client.connect(server.address)
        async with asyncio.timeout(5):
            listener = await accepted.get()
        dialer.authenticated()
        listener.authenticated()
        yield dialer, listener
    finally:
        done.set()
        await client.stop()
        await server.stop()


@pytest.mark.asyncio
async def test_a_link_survives_a_session_that_takes_nothing_for_longer_than_the_heartbeat(
) -> None:
    """A node storing a big batch takes no frame for seconds: pings are still answered, so the
    peer keeps the link, and only the window (not the socket) holds the rest back."""
    heartbeat_s = 0.4  # a ping unanswered for 0.2 s cuts the link
    async with _linked(heartbeat_s) as (sender, receiver):
        frames = [os.urandom(100_000) for _ in range(20)]  # 2 MB: far more than the window
        answers = asyncio.create_task(_next_frames(sender, 1))  # the sender's session reads
        sending = asyncio.create_task(_send_all(sender, frames))
        await asyncio.sleep(10 * heartbeat_s)  # the receiving session is busy: takes nothing
        assert not sending.done()  # held back by the window, not cut
        assert await _next_frames(receiver, len(frames)) == frames
        async with asyncio.timeout(20):
            await sending
        await receiver.send(b"still here")
        async with asyncio.timeout(5):
            assert await answers == [b"still here"]


@pytest.mark.asyncio
async def test_closing_a_link_ends_a_wait_for_its_next_frame() -> None:
    async with _linked() as (dialer, _):
        waiting = asyncio.create_task(dialer.receive())
        await asyncio.sleep(0.05)
        await dialer.close()
        with pytest.raises(LinkClosed):
            async with asyncio.timeout(5):
                await waiting


async def _send_all(link: Link, frames: list[bytes]) -> None:
    for frame in frames:
        await link.send(frame)
