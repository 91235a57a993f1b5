"""Debian's Chromium under Playwright for the browser tests: launch, tablet size, screenshots."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = os.environ.get("CLINICMESH_CHROMIUM", "/usr/bin/chromium")
# Headless and quiet: no sandbox (tests may run as root), no calls home, no GPU.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TABLET = {"width": 820, "height": 1180}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Any]:
    """A headless Chromium, closed when the block ends."""
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def shot(page: Any, name: str) -> None:
    """A full-page screenshot saved as artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
