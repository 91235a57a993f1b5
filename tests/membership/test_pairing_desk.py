"""The pairing desk without sockets: the mDNS pairing flag follows the window, and the secret
it hands over describes the mesh (with this device on the roster)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from crdt_model import directory
from crdt_model.adapter import Doc, actor_for
from discovery.pairing import JoinerSession
from meshd.clinic import Caller, Clinic, genesis_for, project
from meshd.docs import Documents
from meshd.identity import init_data_dir
from meshd.membership.keyring import Keyring
from meshd.membership.pairing_desk import PairingDesk
from meshd.membership.secret import JoinerIdentity, decode_secret
from meshd.store.memory import MemoryStore

WAIT_S = 5.0
CALLER = Caller(user="admin", origin="test")


class Desk:
    """A desk over an in-memory store, recording every mDNS flag it raises or lowers."""

    def __init__(self, desk: PairingDesk, flags: list[bool], changed: asyncio.Event) -> None:
        self.desk = desk
        self.flags = flags
        self.changed = changed

    async def flag_becomes(self, value: bool) -> None:
        async with asyncio.timeout(WAIT_S):
            while not self.flags or self.flags[-1] is not value:
                self.changed.clear()
                await self.changed.wait()


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    data = init_data_dir(tmp_path / "a", device_name="reception")
    device = data.identity.device_id
    async with MemoryStore() as store:
        documents = Documents(store, actor_for(device, "system"), genesis=genesis_for(device),
                              project=project)
        flags: list[bool] = []
        changed = asyncio.Event()

        async def set_flag(value: bool) -> None:
            flags.append(value)
            changed.set()

        clinic = Clinic(documents, store, data.identity)
        made = PairingDesk(data, documents, clinic, Keyring.of(data),
                           set_flag=set_flag)
        yield Desk(made, flags, changed)
        await made.stop()


async def _pair(desk: PairingDesk, code: str) -> bytes:
    """Run a joiner's side against the desk's window in memory; the mesh secret."""
    window = desk.current_window()
    assert window is not None
    inviter = window.open_session()
    joiner = JoinerSession(code, JoinerIdentity(
        "6f1c2a4e-8a6b-4b7e-9a53-1f0f2d9b7c11", "tablet", bytes(range(32))).encode())
    reply: bytes | None = joiner.first_message()
    while reply is not None:
        answer = inviter.handle(reply)
        if inviter.ended:
            assert window.joiner_identity is not None
            await desk._joined(window.joiner_identity)
        reply = joiner.handle(answer)
    assert joiner.mesh_secret is not None
    return joiner.mesh_secret


@pytest.mark.asyncio
async def test_the_pairing_flag_is_up_while_a_window_is_open(desk: Desk) -> None:
    window = await desk.desk.open(CALLER)
    await desk.flag_becomes(True)
    desk.desk.close()
    await desk.flag_becomes(False)
    assert desk.desk.state()["state"] == "closed" and desk.desk.current_window() is None
    await desk.desk.open(CALLER, lifetime_s=0.2)
    await desk.flag_becomes(True)
    await desk.flag_becomes(False)  # it expired on its own
    assert desk.desk.state()["state"] == "expired"
    assert window is not desk.desk.window


@pytest.mark.asyncio
async def test_the_secret_describes_the_mesh_and_the_joiner_is_rostered(desk: Desk) -> None:
    window = await desk.desk.open(CALLER)
    secret = decode_secret(await _pair(desk.desk, window.code))
    await desk.flag_becomes(False)
    me = desk.desk._data
    assert secret.mesh_id == me.identity.mesh_id and secret.keys == {0: me.mesh_key}
    assert secret.inviter_key == me.device_public_key()
    devices = directory.devices(Doc.load(secret.directory))
    assert list(devices) == [me.identity.device_id]  # the inviter put itself on the roster
    assert desk.desk.state()["joined"] == {"id": "6f1c2a4e-8a6b-4b7e-9a53-1f0f2d9b7c11",
                                           "name": "tablet"}
