"""Pairing over the real aiohttp WebSocket route on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from discovery.errors import PairingClosed, WrongCode
from discovery.pairing import PairingWindow, WindowState
from discovery.pairing_channel import ChannelClosed
from discovery.pairing_http import add_pairing_route, pair_over_http, pairing_handler, pairing_url

MESH_SECRET = b"\x00\x01mesh key and roster\xff"
IDENTITY = b"pubkey|Pharmacy tablet"


class Inviter:
    """A peer port serving pairing against whatever window the test opens."""

    def __init__(self) -> None:
        self.window: PairingWindow | None = None
        self.joined: list[bytes] = []
        self.port = 0

    async def on_joined(self, identity: bytes) -> None:
        self.joined.append(identity)


@pytest_asyncio.fixture
async def inviter() -> AsyncIterator[Inviter]:
    state = Inviter()
    app = web.Application()
    add_pairing_route(app, pairing_handler(lambda: state.window, on_joined=state.on_joined))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_joiner_pairs_over_http_and_inviter_gets_its_identity(inviter: Inviter) -> None:
    inviter.window = PairingWindow(MESH_SECRET)
    secret = await pair_over_http("127.0.0.1", inviter.port, inviter.window.code, IDENTITY)
    assert secret == MESH_SECRET
    assert inviter.joined == [IDENTITY]
    assert inviter.window.state is WindowState.PAIRED


@pytest.mark.asyncio
async def test_wrong_code_over_http_is_refused_and_counted(inviter: Inviter) -> None:
    inviter.window = window = PairingWindow(MESH_SECRET, code="111111")
    for attempt in range(1, 4):
        with pytest.raises(WrongCode):
            await pair_over_http("127.0.0.1", inviter.port, "222222", IDENTITY)
        assert window.failures == attempt
    with pytest.raises(PairingClosed):
        await pair_over_http("127.0.0.1", inviter.port, "111111", IDENTITY)
    assert inviter.joined == []


@pytest.mark.asyncio
async def test_no_open_window_says_so(inviter: Inviter) -> None:
    with pytest.raises(PairingClosed, match="not inviting"):
        await pair_over_http("127.0.0.1", inviter.port, "123456", IDENTITY)


@pytest.mark.asyncio
async def test_two_joiners_at_once_only_one_gets_the_secret(inviter: Inviter) -> None:
    inviter.window = PairingWindow(MESH_SECRET)
    code = inviter.window.code
    results = await asyncio.gather(
        pair_over_http("127.0.0.1", inviter.port, code, IDENTITY),
        pair_over_http("127.0.0.1", inviter.port, code, IDENTITY),
        return_exceptions=True,
    )
    assert results.count(MESH_SECRET) == 1
    assert len(inviter.joined) == 1


@pytest.mark.asyncio
async def test_unreachable_inviter_is_a_clear_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(ChannelClosed, match="can't reach"):
        await pair_over_http("127.0.0.1", port, "123456", IDENTITY, timeout_s=5)


def test_pairing_url_brackets_ipv6_and_keeps_the_zone() -> None:
    assert pairing_url("10.0.0.5", 7701) == "http://10.0.0.5:7701/pair/v1"
    assert pairing_url("fe80::1%eth0", 7701) == "http://[fe80::1%eth0]:7701/pair/v1"
    assert pairing_url("clinic-a.local", 7701) == "http://clinic-a.local:7701/pair/v1"
