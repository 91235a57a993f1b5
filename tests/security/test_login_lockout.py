"""On a real node, a thousand concurrent logins check at most five PINs, and a restart clears
nothing."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow
ADMIN, PIN = "Amina", "482915"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _form(client: aiohttp.ClientSession, url: str) -> str:
    async with client.get(url) as response:
        found = CSRF.search(await response.text())
    assert found, url
    return found.group(1)


async def _set_up(base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        csrf = await _form(client, f"{base}/setup")
        async with client.post(f"{base}/setup", allow_redirects=False, data={
            "csrf": csrf, "facility_name": "Hilltop", "name": ADMIN, "pin": PIN,
            "pin_again": PIN,
        }) as response:
            assert response.status == 303, await response.text()


async def _logins(base: str, pin: str, count: int) -> list[int]:
    async with aiohttp.ClientSession(  # unsafe: keep the session cookie of an IP address
        connector=aiohttp.TCPConnector(limit=200), cookie_jar=aiohttp.CookieJar(unsafe=True),
    ) as client:
        csrf = await _form(client, f"{base}/login")

        async def one() -> int:
            async with client.post(f"{base}/login", allow_redirects=False,
                                   data={"csrf": csrf, "name": ADMIN, "pin": pin}) as response:
                return response.status

        return list(await asyncio.gather(*(one() for _ in range(count))))


def test_a_thousand_concurrent_logins_check_five_pins_and_the_lock_survives_a_restart(
    tmp_path: Path,
) -> None:
    (data,) = make_mesh(tmp_path, 1)
    node = MeshdProcess(data).start([])
    try:
        base = f"http://127.0.0.1:{node.api_port}"
        asyncio.run(_set_up(base))
        statuses = asyncio.run(_logins(base, "000000", 1000))
        assert statuses.count(401) <= 5  # a 401 is a PIN that was checked
        assert statuses.count(429) >= 995
        assert asyncio.run(_logins(base, PIN, 1)) == [429]
        node.stop()
        node.start([])
        assert asyncio.run(_logins(base, PIN, 1)) == [429]
    finally:
        node.stop()
