"""The peer port's guard in one process: connection caps, the upgrade deadline, one summary."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sync_helpers import wait_until

from meshd.sync.port_guard import PeerPortGuard, RefusalLog
from meshd.sync.ports import Link
from meshd.sync.websocket import WebSocketTransport

CLOSED_WITHIN_S = 2.0


async def _closed(reader: asyncio.StreamReader) -> bool:
    """Whether the other end closes the connection within CLOSED_WITHIN_S."""
    try:
        async with asyncio.timeout(CLOSED_WITHIN_S):
            return await reader.read(1) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


async def _nothing(link: Link) -> None:
    await link.close()


@pytest.mark.asyncio
async def test_connections_over_the_caps_are_closed_at_once_and_summarised_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusals = RefusalLog(interval_s=0.2)
    guard = PeerPortGuard(max_connections=4, max_per_address=3, upgrade_timeout_s=30,
                          refusals=refusals)
    transport = WebSocketTransport("127.0.0.1", 0, guard=guard)
    await transport.start(_nothing)
    port = int(transport.address.rsplit(":", 1)[1])
    opened = []
    try:
        with caplog.at_level(logging.INFO, logger="meshd.sync.port_guard"):
            for source in ["127.0.0.2"] * 5 + ["127.0.0.3"] * 3:
                opened.append(await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(source, 0)))
            await wait_until(lambda: refusals.total == 4)  # 2 from .2 (per address), 2 in all
            closed = await asyncio.gather(*(_closed(reader) for reader, _ in opened))
            assert closed == [False] * 3 + [True] * 2 + [False] + [True] * 2
            assert guard.connections == 4
            await wait_until(lambda: any("refused 4" in r.getMessage() for r in caplog.records))
        lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(lines) == 1 and "too many from one address" in lines[0], lines
    finally:
        for _, writer in opened:
            writer.close()
        await transport.stop()


@pytest.mark.asyncio
async def test_a_connection_that_never_upgrades_is_closed_at_the_deadline() -> None:
    guard = PeerPortGuard(upgrade_timeout_s=0.3, refusals=RefusalLog())
    transport = WebSocketTransport("127.0.0.1", 0, guard=guard)
    await transport.start(_nothing)
    host, port = transport.address.rsplit(":", 1)
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /mesh/v1 HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert await _closed(reader)
        writer.close()
        await wait_until(lambda: guard.connections == 0)
    finally:
        await transport.stop()
