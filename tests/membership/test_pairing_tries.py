"""A pairing window's tries go to wrong codes only, and a joiner finds the device whose code it
has (real `meshd` processes on loopback, `--peer`, no mDNS)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from membership_procs import Meshd
from meshd_procs import meshd

from discovery.pairing_http import PAIRING_PATH

IDLERS = 3


def _init(path: Path, name: str) -> Meshd:
    assert meshd("init", "--data-dir", str(path), "--name", name).returncode == 0
    return Meshd(path)


def test_three_idle_pairing_connections_leave_the_window_usable(
    tmp_path: Path, procs: list[Meshd]
) -> None:
    a = _init(tmp_path / "a", "reception").start()
    procs.append(a)
    code = a.open_pairing()

    async def idle_then_join() -> tuple[int, str, str]:
        async with aiohttp.ClientSession() as session:
            idlers = [await session.ws_connect(f"http://{a.peer_address}{PAIRING_PATH}")
                      for _ in range(IDLERS)]  # they connect, and say nothing
            joined = await asyncio.to_thread(
                meshd, "join", "--data-dir", str(tmp_path / "b"), "--code", code,
                "--peer", a.peer_address, "--name", "triage tablet")
            for ws in idlers:
                await ws.close()
        return joined.returncode, joined.stdout, joined.stderr

    returncode, stdout, stderr = asyncio.run(idle_then_join())
    assert returncode == 0, stderr
    assert json.loads(stdout)["inviter"] == a.peer_address
    state = a.pairing_state()
    assert state["state"] == "paired" and state["failures"] == 0


def test_join_tries_each_device_showing_a_code_until_the_right_one(
    tmp_path: Path, procs: list[Meshd]
) -> None:
    first = _init(tmp_path / "first", "pharmacy").start()
    procs.append(first)
    second = _init(tmp_path / "second", "reception").start()
    procs.append(second)
    first.open_pairing()
    code = second.open_pairing()

    joined = meshd("join", "--data-dir", str(tmp_path / "new"), "--code", code,
                   "--peer", first.peer_address, "--peer", second.peer_address,
                   "--name", "triage tablet")

    assert joined.returncode == 0, joined.stderr
    assert json.loads(joined.stdout)["inviter"] == second.peer_address
    assert second.pairing_state()["state"] == "paired"
    # The first device was asked once, with a code that is not its own: one try, still open.
    assert first.pairing_state() | {"remaining_s": 0} == {
        "state": "open", "remaining_s": 0, "failures": 1, "joined": None}


def test_a_wrong_code_on_every_device_says_so(tmp_path: Path, procs: list[Meshd]) -> None:
    a = _init(tmp_path / "a", "reception").start()
    procs.append(a)
    code = a.open_pairing()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    joined = meshd("join", "--data-dir", str(tmp_path / "b"), "--code", wrong,
                   "--peer", a.peer_address)
    assert joined.returncode == 1 and "wrong code" in joined.stderr
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
