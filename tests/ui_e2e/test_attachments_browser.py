"""Photos and documents in the browser, on two real `meshd run` nodes at 800x1280: the desk
takes the patient's photo on the new card, a 2 MB scanned referral is added on the chart, a
30 MB file is stopped with a message naming both sizes, and the other device shows the photo
and serves the document once the chart and then the blobs have synced."""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from chromium import NEEDS_CHROMIUM, shot
from sync_procs import MeshdProcess
from test_two_devices import (
    ADMIN,
    ADMIN_PIN,
    RETRY_S,
    SYNC_WAIT_S,
    WAIT_MS,
    browser,  # noqa: F401  (the fixture)
    log_in,
    register,
    set_up,
    wait_until_set_up_arrives,
)

pytestmark = NEEDS_CHROMIUM
PORTRAIT = {"width": 800, "height": 1280}
TWO_MB = 2 * 1024 * 1024
THIRTY_MB = 30 * 1024 * 1024
SLOW_MS = 60_000  # files handed to the browser on a busy 2-core machine


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG (a stand-in for the tablet camera's photo)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


async def _tablet(chromium: Any, node: MeshdProcess) -> Any:
    context = await chromium.new_context(base_url=f"http://127.0.0.1:{node.api_port}",
                                        viewport=PORTRAIT, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    return await context.new_page()


async def _fits(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PORTRAIT["width"], f"{page.url} scrolls sideways: {width} px"


async def _image_shown(page: Any, selector: str) -> bool:
    return bool(await page.eval_on_selector(
        selector, "img => img.complete && img.naturalWidth > 0"))


@pytest.mark.asyncio
async def test_photo_and_scan_added_on_one_tablet_are_shown_on_the_other(
    two_nodes: tuple[MeshdProcess, MeshdProcess], browser: Any, tmp_path: Path,  # noqa: F811
) -> None:
    node_a, node_b = two_nodes
    a = await _tablet(browser, node_a)
    await set_up(a)
    patient = await register(a, "Neema", "Mwangi")

    # At registration: the card offers the camera, and shows the photo once taken.
    assert await a.get_attribute("#f-file-photo", "capture") == "environment"
    assert await a.get_attribute("#f-file-photo", "accept") == "image/*"
    photo = _png(120, 160, (40, 110, 180))
    await a.set_input_files("#f-file-photo", {"name": "camera.png", "mimeType": "image/png",
                                              "buffer": photo})
    await a.click("form.js-upload button[type=submit]")
    await a.wait_for_url(f"**/patients/{patient}/card")
    await a.wait_for_selector("img.card-photo")
    assert await _image_shown(a, "img.card-photo")
    await _fits(a)
    await shot(a, "40-card-with-photo")

    # On the chart: a 2 MB scanned referral; a 30 MB file is stopped with both sizes.
    await a.goto(f"/patients/{patient}")
    scan = b"%PDF-1.4\n" + os.urandom(TWO_MB - 9)
    await a.set_input_files("#f-file-document", {"name": "referral.pdf",
                                                 "mimeType": "application/pdf", "buffer": scan},
                            timeout=SLOW_MS)
    await a.click("#attachments form.js-upload:has(#f-file-document) button[type=submit]")
    await a.wait_for_selector("#attachments a.attachment-name:text('referral.pdf')")
    huge = tmp_path / "x-ray.png"  # by path: the browser reads it, no 30 MB through the driver
    huge.write_bytes(bytes(THIRTY_MB))
    await a.set_input_files("#f-file-document", huge, timeout=SLOW_MS)
    warning = a.locator("#attachments form:has(#f-file-document) .js-too-big")
    await warning.wait_for()
    said = await warning.inner_text()
    assert "30.0 MB" in said and "20.0 MB" in said, said
    before = a.url
    await a.click("#attachments form.js-upload:has(#f-file-document) button[type=submit]")
    assert a.url == before and await warning.is_visible(), "the over-size file was sent"
    assert await a.locator("#attachments a.attachment-name").count() == 2  # photo and scan
    assert await _image_shown(a, "img.patient-photo")
    await _fits(a)
    await shot(a, "41-chart-attachments-a")

    # The other tablet: the chart arrives, then the photo and the scan.
    b = await _tablet(browser, node_b)
    await wait_until_set_up_arrives(b)
    await log_in(b, ADMIN, ADMIN_PIN)
    deadline = time.monotonic() + SYNC_WAIT_S
    while True:
        await b.goto(f"/patients/{patient}")
        if await b.locator("#attachments a.attachment-name").count() == 2:
            break
        assert time.monotonic() < deadline, "the chart with its attachments has not arrived"
        await asyncio.sleep(RETRY_S)  # another process's sync: no event reaches the browser
    await b.wait_for_function(
        "() => { const i = document.querySelector('img.patient-photo');"
        " return i && i.complete && i.naturalWidth > 0; }", timeout=SYNC_WAIT_S * 1000)
    href = await b.get_attribute("#attachments a.attachment-name:text('referral.pdf')", "href")
    assert href == f"/attachments/{hashlib.sha256(scan).hexdigest()}"
    served = await b.request.get(href)
    assert served.status == 200 and await served.body() == scan
    await _fits(b)
    await shot(b, "42-chart-attachments-b")
