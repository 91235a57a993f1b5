"""Two clinic devices, two real `meshd run` nodes syncing, two browsers: a patient sent to a
station on one device appears in the other device's open queue page without a reload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from chromium import NEEDS_CHROMIUM, TABLET, launched_chromium, shot
from sync_procs import MeshdProcess

WAIT_MS = 10_000
# A change made on one node reaches the other's open page: sync, then the SSE refresh.
SYNC_WAIT_MS = 20_000
SYNC_WAIT_S = SYNC_WAIT_MS / 1000
RETRY_S = 0.2
FACILITY, ADMIN, ADMIN_PIN = "Kibera Health Post", "Amina", "246813"
# Set in the page's JS world; a reload or navigation would wipe it.
MARK = "window.__stayed = 'still here'"
MARK_READ = "window.__stayed"

pytestmark = NEEDS_CHROMIUM


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    async with launched_chromium() as chromium:
        yield chromium


async def device(browser: Any, node: MeshdProcess) -> Any:
    """A browser context (its own cookies) on `node`'s UI, at tablet size."""
    context = await browser.new_context(base_url=f"http://127.0.0.1:{node.api_port}",
                                        viewport=TABLET, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    return await context.new_page()


async def set_up(page: Any) -> None:
    """First run on this device: the facility and its administrator."""
    await page.goto("/")
    await page.wait_for_url("**/setup")
    await page.fill("#f-facility_name", FACILITY)
    await page.fill("#f-name", ADMIN)
    await page.fill("#f-pin", ADMIN_PIN)
    await page.fill("#f-pin_again", ADMIN_PIN)
    await page.click("text=Create the clinic")
    await page.wait_for_url("**/users")


async def wait_until_set_up_arrives(page: Any) -> None:
    """Reload (bounded) until this device offers the login of the facility set up on the other:
    the directory (the administrator) and the facility document (its name) have synced here."""
    deadline = time.monotonic() + SYNC_WAIT_S
    while True:
        await page.goto("/login")
        if page.url.endswith("/login") and await page.inner_text(".brand") == FACILITY:
            return
        assert time.monotonic() < deadline, f"set-up has not arrived: {page.url}"
        await asyncio.sleep(RETRY_S)  # another process's sync: no event reaches the browser


async def log_in(page: Any, name: str, pin: str) -> None:
    await page.goto("/login")
    await page.fill("#f-name", name)
    await page.fill("#f-pin", pin)
    await page.click("button.primary.big")
    await page.wait_for_selector("nav")


async def open_live_queue(page: Any) -> None:
    """The queue page, its event stream connected, marked so a reload would show."""
    await page.goto("/queue")
    await page.wait_for_selector("#live[data-connected]")
    await page.evaluate(MARK)


async def register(page: Any, given: str, family: str) -> str:
    """Register (which checks the patient in for triage); the new patient's id."""
    await page.goto("/patients/new")
    await page.fill("#f-given_name", given)
    await page.fill("#f-family_name", family)
    await page.check("input[name=sex][value=female]")
    await page.fill("#f-age_years", "34")
    await page.click("button.primary.big")
    await page.wait_for_url("**/card?new=1")
    return str(page.url.split("/patients/")[1].split("/")[0])


def waiting_at(station: str, patient_id: str) -> str:
    return f"section[aria-labelledby=st-{station}] li.patient[data-patient='{patient_id}']"


async def assert_stayed(page: Any) -> None:
    assert await page.evaluate(MARK_READ) == "still here", "the page was reloaded"


@pytest.mark.asyncio
async def test_a_patient_sent_on_one_device_appears_live_on_the_other(
    two_nodes: tuple[MeshdProcess, MeshdProcess], browser: Any
) -> None:
    node_a, node_b = two_nodes
    a = await device(browser, node_a)
    await set_up(a)

    # B never runs set-up: the administrator arrives with the mesh directory.
    b = await device(browser, node_b)
    await wait_until_set_up_arrives(b)
    await b.goto("/setup")
    assert b.url.endswith("/login"), "set-up offered again on a device of a set-up mesh"
    await log_in(b, ADMIN, ADMIN_PIN)
    await open_live_queue(b)

    patient = await register(a, "Mwanaisha", "Otieno")
    triage_on_b = b.locator(waiting_at("triage", patient))
    await triage_on_b.wait_for(timeout=SYNC_WAIT_MS)
    assert "Mwanaisha Otieno" in await triage_on_b.inner_text()
    await assert_stayed(b)
    await shot(b, "21-two-devices-b-triage")

    # The reverse: B sends the patient on to consultation, A's open queue follows.
    await open_live_queue(a)
    await triage_on_b.locator("select[name=station]").select_option("consultation")
    await triage_on_b.locator("button[type=submit]").click()
    await b.wait_for_selector(waiting_at("consultation", patient))
    await a.locator(waiting_at("consultation", patient)).wait_for(timeout=SYNC_WAIT_MS)
    await a.locator(waiting_at("triage", patient)).wait_for(state="detached")
    await assert_stayed(a)

    await shot(a, "20-two-devices-a")
    await shot(b, "20-two-devices-b")
