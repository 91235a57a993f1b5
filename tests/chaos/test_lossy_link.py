"""The chaos soak's delay and loss proxy (scripts/chaos_lib/lossy_link.py), in-process on
loopback: it delays each direction by the link's one-way delay, holds a direction back when a
segment is "lost", delivers every byte in order all the same, and follows its control file."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from chaos_lib.lossy_link import Control, Impairment, LossyProxy

OWN = "10.231.77.10"
PEER = "127.0.0.1"  # the echo server's end: the proxy looks a link up by both ends


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest_asyncio.fixture
async def link(tmp_path: Path) -> AsyncIterator[tuple[LossyProxy, int, Path]]:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    target = ("127.0.0.1", server.sockets[0].getsockname()[1])
    control_file = tmp_path / "impair.json"
    proxy = LossyProxy(Control(control_file), OWN, seed=5, mark=0, target=target)
    proxy_server = await proxy.serve(0)
    yield proxy, proxy_server.sockets[0].getsockname()[1], control_file
    impair(control_file, proxy, {})
    await asyncio.sleep(0.5)  # the pipes see their ends and close
    for listening in (proxy_server, server):
        listening.close()
        await listening.wait_closed()


def impair(control_file: Path, proxy: LossyProxy, table: dict[str, dict[str, float]]) -> None:
    control_file.write_text(json.dumps(table))
    proxy.control._mtime = -1.0  # the mtime may not have ticked since the last write
    proxy.control.refresh()


async def round_trip(port: int, payload: bytes) -> tuple[float, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(payload)
    await writer.drain()
    got = await asyncio.wait_for(reader.readexactly(len(payload)), 30)
    took = time.monotonic() - started
    writer.close()
    await writer.wait_closed()
    return took, got


@pytest.mark.asyncio
async def test_delay_applies_each_way_only_while_the_control_file_says_so(link) -> None:  # type: ignore[no-untyped-def]
    proxy, port, control_file = link
    took, got = await round_trip(port, b"ping")
    assert got == b"ping" and took < 0.15
    impair(control_file, proxy, {OWN: {"delay_ms": 60}, PEER: {"delay_ms": 40}})
    assert proxy.control.link(OWN, PEER) == Impairment(100.0, 0.0)
    took, got = await round_trip(port, b"ping")
    assert got == b"ping" and 0.2 <= took < 1.0  # 100 ms out, 100 ms back, through the proxy
    impair(control_file, proxy, {})
    took, _ = await round_trip(port, b"ping")
    assert took < 0.15


@pytest.mark.asyncio
async def test_lost_segments_stall_but_every_byte_arrives_in_order(link) -> None:  # type: ignore[no-untyped-def]
    proxy, port, control_file = link
    impair(control_file, proxy, {OWN: {"delay_ms": 5, "loss": 0.02}})
    payload = random.Random(1).randbytes(300_000)
    took, got = await round_trip(port, payload)
    assert got == payload
    assert proxy.stalls > 0 and took >= 0.2  # at least one retransmission timeout


def test_both_ends_impair_a_link_and_losses_compound() -> None:
    a, b = Impairment(100, 0.1), Impairment(50, 0.2)
    assert a.plus(b) == Impairment(150, pytest.approx(0.28))
    rng = random.Random(3)
    lost = sum(Impairment(0, 0.01).lost(rng, 1448 * 10) for _ in range(20_000)) / 20_000
    assert lost == pytest.approx(1 - 0.99 ** 10, abs=0.01)  # ten segments, each 1 % lost
    assert not any(Impairment(300, 0).lost(rng, 65536) for _ in range(1000))
