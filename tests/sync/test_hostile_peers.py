"""Hostile traffic on the peer port never crashes or stalls the node: others keep syncing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from sync_helpers import Mesh, put_entry, wait_until

from meshd import wire, wire_pack
from meshd.sync import handshake
from meshd.sync.ports import LinkClosed
from meshd.sync.websocket import PEER_PATH, WebSocketLink

CHART = "chart:aaaaaaaa-2222-4333-8444-555555555555"
DRIP_INTERVAL_S = 0.05


async def _silent_tcp(host: str, port: int) -> None:
    """Connects and sends nothing, forever."""
    _, writer = await asyncio.open_connection(host, port)
    try:
        await asyncio.Event().wait()
    finally:
        writer.close()


async def _drip_http(host: str, port: int) -> None:
    """Sends an upgrade request one byte at a time."""
    _, writer = await asyncio.open_connection(host, port)
    request = f"GET {PEER_PATH} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n".encode()
    try:
        for byte in request * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(DRIP_INTERVAL_S)
    finally:
        writer.close()


async def _ws_frames(address: str, frames: list[bytes]) -> None:
    """Opens a WebSocket and sends raw frames until the node hangs up."""
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(f"http://{address}{PEER_PATH}", max_msg_size=0)
        link = WebSocketLink(ws, address, lambda _: None)
        with contextlib.suppress(LinkClosed, ConnectionError):
            for frame in frames:
                await link.send(frame)
            while True:
                await link.receive()
        await link.close()


@contextlib.asynccontextmanager
async def attacking(*attacks: Awaitable[None]) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run attacks in the background for the duration of the block."""
    tasks = [asyncio.ensure_future(a) for a in attacks]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_garbage_truncated_oversized_and_slow_loris_do_not_stall_other_peers(
    mesh: Mesh,
) -> None:
    b, c = mesh.device("b"), mesh.device("c")
    server = await mesh.start_socket(b)
    host, port = server.address.rsplit(":", 1)
    hello = wire.encode(wire.ClientHello(b"\x01" * 32, b"\x02" * 32))
    attacks: list[Callable[[], Awaitable[None]]] = [
        lambda: _silent_tcp(host, int(port)),
        lambda: _drip_http(host, int(port)),
        lambda: _ws_frames(server.address, []),  # upgraded, then silent
        lambda: _ws_frames(server.address, [b"\x00garbage\xff" * 10]),
        lambda: _ws_frames(server.address, [hello[: len(hello) // 2]]),  # truncated hello
        lambda: _ws_frames(server.address, [b"\x01" * (wire.MAX_FRAME_BYTES + 1024)]),
        lambda: _ws_frames(server.address, [hello, b"\x01" + b"\x00" * 40, b"\x01"]),
    ]
    async with attacking(*(attack() for attack in attacks)) as tasks:
        await wait_until(lambda: server.refused >= 3)
        await mesh.start_socket(c, peers=[server.address])
        for i in range(20):
            c.docs.edit(CHART, put_entry(f"vitals-{i}", "taken"))
        await wait_until(lambda: b.heads(CHART) == c.heads(CHART), timeout_s=10)
        assert not all(t.done() for t in tasks[:3])  # the slow ones were still hanging on
    assert server.connected_peers() == [c.public.hex()]


@pytest.mark.asyncio
async def test_authenticated_peer_sending_garbage_frames_is_cut_off(mesh: Mesh) -> None:
    a, m = mesh.device("a"), mesh.device("m")
    server = await mesh.start_socket(a)
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(f"http://{server.address}{PEER_PATH}")
        link = WebSocketLink(ws, server.address, lambda _: None)
        channel = await handshake.dial(link, mesh.credentials(m), timeout_s=5)
        sealer = channel._sealer
        with contextlib.suppress(LinkClosed):
            for _ in range(10):  # sealed correctly, but not messages
                await link.send(sealer.seal(b"\x93\x01\x63\xc0"))
            async with asyncio.timeout(5):
                while True:
                    await link.receive()
        await link.close()
    await wait_until(lambda: not server.connected_peers())
    assert a.docs.docs == {}


@pytest.mark.asyncio
async def test_a_peer_whose_compressed_stream_breaks_is_cut_off_at_once(
        mesh: Mesh, caplog: pytest.LogCaptureFixture) -> None:
    a, m = mesh.device("a"), mesh.device("m")
    m.docs.edit(CHART, put_entry("vitals", "taken"))
    saved = wire.SavedDoc(CHART, m.docs.docs[CHART].save())
    snapshots = [wire.Snapshots((saved,) * count) for count in (20, 10)]  # big enough to pack
    stream = wire_pack.Packer()
    first, second = (stream.pack(s) for s in snapshots)
    assert isinstance(first, wire.Packed) and isinstance(second, wire.Packed)
    server = await mesh.start_socket(a)
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(f"http://{server.address}{PEER_PATH}")
        link = WebSocketLink(ws, server.address, lambda _: None)
        channel = await handshake.dial(link, mesh.credentials(m), timeout_s=5)
        # The stream's second message, its first never sent: nothing in it can be read.
        await link.send(channel._sealer.seal(wire.encode(second)))
        with contextlib.suppress(LinkClosed):
            async with asyncio.timeout(5):  # cut off at once, not after MAX_STRIKES frames
                while True:
                    await link.receive()
        await link.close()
    await wait_until(lambda: not server.connected_peers())
    assert a.docs.docs == {}
    assert "m sent bad data: malformed message: packed message does not" in caplog.text
