"""How the node handles pairing attempts: wrong codes, expiry, three strikes, replays.

An in-process node (no mDNS) opens the window through its API, as `meshd pair` does; the new
device's side is `join_mesh` (run in a thread: it runs its own event loop, as the CLI does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from discovery.pairing import JoinerSession
from discovery.pairing_http import pairing_url
from discovery.pairing_wire import Kind
from discovery.qr import pairing_uri
from meshd.identity import init_data_dir
from meshd.membership.errors import PairingFailed
from meshd.membership.joining import invitation, join_mesh
from meshd.membership.secret import JoinerIdentity
from meshd.node import Node, NodeOptions

WAIT_S = 10.0


class Inviter:
    """A running node and its API, as `meshd pair` uses it."""

    def __init__(self, node: Node, session: aiohttp.ClientSession) -> None:
        self.node = node
        self.session = session
        assert node.data is not None and node.membership is not None
        self.base = f"http://127.0.0.1:{node.api_port}/api/v1"
        self.headers = {"Authorization": f"Bearer {node.data.api_token}"}
        self.peer = f"127.0.0.1:{node.membership.peer_port()}"

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, json=body,
                                        headers=self.headers) as response:
            return response.status, await response.json()

    async def open(self, **body: Any) -> str:
        status, answer = await self.call("POST", "/pairing", body)
        assert status == 201, answer
        return str(answer["code"])

    async def state(self) -> dict[str, Any]:
        return dict((await self.call("GET", "/pairing"))[1])

    async def roster(self) -> list[str]:
        return [row["name"] for row in (await self.call("GET", "/devices"))[1]["devices"]]

    async def join(self, target: Path, code: str) -> PairingFailed | None:
        """Try to join with `code`; the failure, or None when it paired."""
        try:
            await asyncio.to_thread(join_mesh, target, code, peers=[self.peer], device_name="tab")
        except PairingFailed as exc:
            return exc
        return None


@pytest_asyncio.fixture
async def inviter(tmp_path: Path) -> AsyncIterator[Inviter]:
    data = init_data_dir(tmp_path / "a", device_name="reception")
    async with Node(NodeOptions(data_dir=data.path, api_port=0, peer_port=0, mdns=False)) as node:
        async with aiohttp.ClientSession() as session:
            yield Inviter(node, session)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.mark.asyncio
async def test_a_wrong_code_gets_nothing_and_leaves_the_window_open(
    inviter: Inviter, tmp_path: Path
) -> None:
    code = await inviter.open()
    failure = await inviter.join(tmp_path / "b", _wrong(code))
    assert failure is not None and failure.code == "wrong_code"
    assert not (tmp_path / "b").exists()  # nothing was received, nothing was created
    state = await inviter.state()
    assert state["state"] == "open" and state["failures"] == 1
    assert await inviter.join(tmp_path / "b", code) is None  # the right code still works
    assert (await inviter.state())["state"] == "paired"
    assert sorted(await inviter.roster()) == ["reception", "tab"]


@pytest.mark.asyncio
async def test_three_wrong_codes_close_the_window_even_to_the_right_code(
    inviter: Inviter, tmp_path: Path
) -> None:
    code = await inviter.open()
    for _ in range(3):
        failure = await inviter.join(tmp_path / "b", _wrong(code))
        assert failure is not None and failure.code == "wrong_code"
    assert (await inviter.state())["state"] == "exhausted"
    failure = await inviter.join(tmp_path / "b", code)
    assert failure is not None and failure.code == "pairing_closed"
    assert not (tmp_path / "b").exists()
    assert await inviter.roster() == ["reception"]


@pytest.mark.asyncio
async def test_an_expired_window_refuses_the_right_code(inviter: Inviter, tmp_path: Path) -> None:
    code = await inviter.open(lifetime_s=0.5)
    deadline = time.monotonic() + WAIT_S
    while (await inviter.state())["state"] == "open":
        assert time.monotonic() < deadline, "the window never expired"
        await asyncio.sleep(0.1)  # the window's own clock: polled through the API
    assert (await inviter.state())["state"] == "expired"
    failure = await inviter.join(tmp_path / "b", code)
    assert failure is not None and failure.code == "pairing_closed"
    assert not (tmp_path / "b").exists()


@pytest.mark.asyncio
async def test_a_window_longer_than_five_minutes_is_refused(inviter: Inviter) -> None:
    status, body = await inviter.call("POST", "/pairing", {"lifetime_s": 301})
    assert status == 400 and body["field"] == "lifetime_s"


async def _exchange(
    session: aiohttp.ClientSession, url: str, messages: list[bytes]
) -> list[bytes]:
    """Send each message in turn on a fresh pairing connection; every reply received."""
    replies: list[bytes] = []
    async with session.ws_connect(url) as ws:
        for message in messages:
            await ws.send_bytes(message)
            reply = await ws.receive()
            if reply.type is not aiohttp.WSMsgType.BINARY:
                break
            replies.append(reply.data)
            if reply.data[1] == Kind.FAILED:
                break
    return replies


@pytest.mark.asyncio
async def test_replayed_pairing_messages_get_no_secret_and_only_a_wrong_mac_counts(
    inviter: Inviter,
) -> None:
    code = await inviter.open()
    host, port = inviter.peer.split(":")
    url = pairing_url(host, int(port))
    identity = JoinerIdentity("6f1c2a4e-8a6b-4b7e-9a53-1f0f2d9b7c11", "eavesdropped",
                              bytes(32)).encode()
    joiner = JoinerSession(code, identity)
    first = joiner.first_message()
    async with aiohttp.ClientSession() as session:
        # A genuine joiner that vanishes before telling who it is: recorded by an eavesdropper.
        async with session.ws_connect(url) as ws:
            await ws.send_bytes(first)
            confirm = joiner.handle((await ws.receive()).data)
            assert confirm is not None
            await ws.send_bytes(confirm)
            assert (await ws.receive()).data[1] == Kind.INVITER_SECRET
        replayed = await _exchange(session, url, [first, confirm])
        assert [r[1] for r in replayed] == [Kind.INVITER_PAKE, Kind.FAILED]
        out_of_order = await _exchange(session, url, [confirm])
        assert [r[1] for r in out_of_order] == [Kind.FAILED]
    assert all(Kind.INVITER_SECRET not in (r[1],) for r in replayed + out_of_order)
    state = await inviter.state()
    # The replayed confirmation is a wrong MAC for its session; the rest learnt nothing.
    assert state["state"] == "open" and state["failures"] == 1
    assert await inviter.roster() == ["reception"]


@pytest.mark.asyncio
async def test_the_qr_uri_carries_the_code_and_the_inviters_address(
    inviter: Inviter, tmp_path: Path
) -> None:
    code = await inviter.open()
    host, port = inviter.peer.split(":")
    typed_code, peers = invitation(None, None, pairing_uri(code, host, int(port)))
    assert (typed_code, peers) == (code, [inviter.peer])
    joined = await asyncio.to_thread(join_mesh, tmp_path / "b", typed_code, peers=peers)
    assert inviter.node.data is not None
    assert joined.data.identity.mesh_id == inviter.node.data.identity.mesh_id
    assert (await inviter.state())["state"] == "paired"
    with pytest.raises(PairingFailed) as refused:
        invitation(None, None, "https://example.org/pair?code=123456")
    assert refused.value.code == "invalid_invite"
