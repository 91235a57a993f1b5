"""The admin backs up a running device from the sync page into a folder (a USB stick)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from sync_procs import MeshdProcess, make_mesh

from meshd.backup import restore

pytestmark = pytest.mark.slow
ADMIN, PIN = "Amina", "482915"
SECRET = "a long backup phrase"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _back_up_twice(base: str, folder: Path) -> list[tuple[int, str]]:
    """Set the clinic up, then post the backup form with mismatched and with good phrases."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async def post(path: str, page: str, data: dict[str, str]) -> tuple[int, str]:
            async with client.get(f"{base}{page}") as response:
                found = CSRF.search(await response.text())
            assert found, page
            async with client.post(f"{base}{path}", data={**data, "csrf": found.group(1)}) as r:
                return r.status, await r.text()

        status, _ = await post("/setup", "/setup", {
            "facility_name": "Hilltop", "name": ADMIN, "pin": PIN, "pin_again": PIN})
        assert status == 200  # set up and logged in (the users page, after the redirect)
        return [await post("/backup", "/sync", {
            "folder": str(folder), "backup_passphrase": SECRET, "backup_passphrase_again": again,
        }) for again in ("not the same phrase", SECRET)]


def test_the_admin_backs_up_a_running_device_into_a_folder(tmp_path: Path) -> None:
    (data,) = make_mesh(tmp_path, 1)
    usb = tmp_path / "usb"
    usb.mkdir()
    node = MeshdProcess(data).start([])
    try:
        base = f"http://127.0.0.1:{node.api_port}"
        (refused, page), (saved, done) = asyncio.run(_back_up_twice(base, usb))
        assert refused == 400 and "The two passphrases are not the same." in page
        assert saved == 200 and "Backup saved" in done and "never been backed up" not in done
    finally:
        node.stop()
    (written,) = usb.iterdir()
    assert written.suffix == ".backup"
    restore(written, tmp_path / "replacement", SECRET)
    assert (tmp_path / "replacement" / "node.json").exists()
