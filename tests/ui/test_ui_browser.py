"""A whole clinic day clicked through in Chromium, one browser context (device) per role, with
tablet-width screenshots of each main page in artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from chromium import NEEDS_CHROMIUM, TABLET, launched_chromium, shot
from ui_service.ui_service_helpers import make_service, make_store

from ui.app import create_ui_app
from ui.auth import hash_pin
from ui.service import ClinicService

WAIT_MS = 10_000
PIN = "135702"

pytestmark = NEEDS_CHROMIUM


@asynccontextmanager
async def serve(clinic: ClinicService, **options: Any) -> AsyncIterator[str]:
    """The UI on an ephemeral port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(create_ui_app(clinic, **options), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(params=["memory", "sqlcipher"])
async def server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, ClinicService]]:
    """The UI over the daemon's real clinic core, on the in-memory store and on SQLCipher."""
    store = make_store(str(request.param), tmp_path)
    await store.start()  # type: ignore[attr-defined]
    try:
        clinic = make_service(store)
        async with serve(clinic) as base:
            yield base, clinic
    finally:
        await store.stop()  # type: ignore[attr-defined]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[object]:
    async with launched_chromium() as chromium:
        yield chromium


async def device(browser: object, base: str, locale: str = "en-GB") -> object:
    """A new browser context (a separate device with its own cookies) at tablet size."""
    context = await browser.new_context(  # type: ignore[attr-defined]
        base_url=base, viewport=TABLET, locale=locale)
    context.set_default_timeout(WAIT_MS)
    return await context.new_page()


async def log_in(page: object, name: str, pin: str = PIN) -> None:
    await page.goto("/login")  # type: ignore[attr-defined]
    await page.fill("#f-name", name)  # type: ignore[attr-defined]
    await page.fill("#f-pin", pin)  # type: ignore[attr-defined]
    await page.click("button.primary.big")  # type: ignore[attr-defined]
    await page.wait_for_selector("nav")  # type: ignore[attr-defined]


async def add_user(page: object, name: str, role: str, language: str = "en") -> None:
    await page.goto("/users")  # type: ignore[attr-defined]
    await page.fill("#f-name", name)  # type: ignore[attr-defined]
    await page.check(f"form[action='/users'] input[name=roles][value={role}]")  # type: ignore[attr-defined]
    await page.fill("#f-pin", PIN)  # type: ignore[attr-defined]
    await page.select_option("#f-language", language)  # type: ignore[attr-defined]
    await page.click("text=Add this person")  # type: ignore[attr-defined]
    await page.wait_for_selector(f".users strong:text-is('{name}')")  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_clinic_day_from_set_up_to_dispensing(
    server: tuple[str, ClinicService], browser: object
) -> None:
    base, clinic = server
    admin = await device(browser, base)
    await admin.goto("/")  # type: ignore[attr-defined]
    await admin.wait_for_url("**/setup")  # type: ignore[attr-defined]
    await admin.fill("#f-facility_name", "Kibera Health Post")  # type: ignore[attr-defined]
    await admin.fill("#f-name", "Amina")  # type: ignore[attr-defined]
    await admin.fill("#f-pin", "246813")  # type: ignore[attr-defined]
    await admin.fill("#f-pin_again", "246813")  # type: ignore[attr-defined]
    await shot(admin, "01-first-run-setup")
    await admin.click("text=Create the clinic")  # type: ignore[attr-defined]
    await admin.wait_for_url("**/users")  # type: ignore[attr-defined]
    for name, role in (("Rehema", "registration"), ("Zawadi", "nurse"),
                       ("Daktari", "clinician"), ("Baraka", "lab"), ("Neema", "pharmacy")):
        await add_user(admin, name, role)
    await shot(admin, "02-users")

    pharmacy = await device(browser, base)
    await log_in(pharmacy, "Neema")
    await pharmacy.fill("#n-name", "Cefalexin 250 mg")  # type: ignore[attr-defined]
    await pharmacy.fill("#n-reorder", "30")  # type: ignore[attr-defined]
    await pharmacy.click("text=Add the medicine")  # type: ignore[attr-defined]
    await pharmacy.wait_for_selector("td:text('Cefalexin 250 mg')")  # type: ignore[attr-defined]
    # Amoxicillin is one of the essential medicines the facility started with.
    await pharmacy.select_option("#r-drug", "amoxicillin-250")  # type: ignore[attr-defined]
    await pharmacy.fill("#r-qty", "40")  # type: ignore[attr-defined]
    await pharmacy.click("text=Add to stock")  # type: ignore[attr-defined]
    await pharmacy.wait_for_selector("td:text('40 ')")  # type: ignore[attr-defined]

    nurse = await device(browser, base)
    await log_in(nurse, "Zawadi")
    await nurse.goto("/queue")  # type: ignore[attr-defined]
    await nurse.wait_for_selector("#live[data-connected]")  # type: ignore[attr-defined]

    reception = await device(browser, base)
    await log_in(reception, "Rehema")
    await reception.goto("/patients")  # type: ignore[attr-defined]
    await reception.fill("#q", "Mwanaisha")  # type: ignore[attr-defined]
    await reception.press("#q", "Enter")  # type: ignore[attr-defined]
    await reception.click("a.button:has-text('Register a new patient')")  # type: ignore[attr-defined]
    await reception.fill("#f-family_name", "Otieno")  # type: ignore[attr-defined]
    await reception.check("input[name=sex][value=female]")  # type: ignore[attr-defined]
    await reception.fill("#f-age_years", "abc")  # type: ignore[attr-defined]
    await reception.click("button.primary.big")  # type: ignore[attr-defined]
    await reception.wait_for_selector("#e-age_years")  # type: ignore[attr-defined]
    await shot(reception, "03-registration-errors")
    await reception.fill("#f-age_years", "34")  # type: ignore[attr-defined]
    await reception.fill("#f-village", "Kisumu Ndogo")  # type: ignore[attr-defined]
    await reception.fill("#f-phone", "+254 712 345678")  # type: ignore[attr-defined]
    await reception.click("button.primary.big")  # type: ignore[attr-defined]
    await reception.wait_for_selector(".patient-card svg")  # type: ignore[attr-defined]
    await shot(reception, "04-patient-card")
    await reception.goto("/patients?q=mwanaisa+otieno")  # type: ignore[attr-defined]
    await reception.wait_for_selector(".results li:has-text('Mwanaisha Otieno')")  # type: ignore[attr-defined]
    await shot(reception, "04b-search-misspelt")

    # The nurse's queue, open on another device, shows the patient without a reload.
    await nurse.wait_for_selector("text=Mwanaisha Otieno")  # type: ignore[attr-defined]
    await shot(nurse, "05-queue")
    await nurse.click("text=Start triage")  # type: ignore[attr-defined]
    await nurse.fill("#f-temperature_c", "73")  # type: ignore[attr-defined]
    await nurse.check("input[name=category][value=priority]")  # type: ignore[attr-defined]
    await nurse.click("text=Save and send to consultation")  # type: ignore[attr-defined]
    await nurse.wait_for_selector("#e-temperature_c")  # type: ignore[attr-defined]
    await nurse.fill("#f-temperature_c", "38.9")  # type: ignore[attr-defined]
    await nurse.fill("#f-pulse_bpm", "112")  # type: ignore[attr-defined]
    await nurse.fill("#f-systolic_mmhg", "118")  # type: ignore[attr-defined]
    await nurse.fill("#f-diastolic_mmhg", "76")  # type: ignore[attr-defined]
    await nurse.fill("#f-weight_kg", "61.5")  # type: ignore[attr-defined]
    await shot(nurse, "06-triage")
    await nurse.click("text=Save and send to consultation")  # type: ignore[attr-defined]
    await nurse.wait_for_url("**/queue")  # type: ignore[attr-defined]

    clinician = await device(browser, base)
    await log_in(clinician, "Daktari")
    await clinician.goto("/queue")  # type: ignore[attr-defined]
    await clinician.click("text=Open chart")  # type: ignore[attr-defined]
    await clinician.fill("#f-substance", "Sulfa drugs")  # type: ignore[attr-defined]
    await clinician.click("text=Add the allergy")  # type: ignore[attr-defined]
    await clinician.wait_for_selector(".allergy-banner")  # type: ignore[attr-defined]
    await clinician.fill("#dx", "malaria")  # type: ignore[attr-defined]
    await clinician.press("#dx", "Enter")  # type: ignore[attr-defined]
    await clinician.click(".dx-results li:has-text('B54') button")  # type: ignore[attr-defined]
    await clinician.wait_for_selector("#problems .entries .code:text('B54')")  # type: ignore[attr-defined]
    await clinician.click("summary:text('Prescribe')")  # type: ignore[attr-defined]
    await clinician.select_option("#f-drug_id", label="Amoxicillin 250 mg (in stock: 40)")  # type: ignore[attr-defined]
    await clinician.fill("#f-dose", "250")  # type: ignore[attr-defined]
    await clinician.select_option("#f-dose_unit", "mg")  # type: ignore[attr-defined]
    await clinician.fill("#f-duration_days", "5")  # type: ignore[attr-defined]
    await clinician.fill("#f-quantity", "15")  # type: ignore[attr-defined]
    await clinician.click("#medicines button[type=submit]")  # type: ignore[attr-defined]
    await clinician.wait_for_selector("#medicines .entries strong:text('Amoxicillin')")  # type: ignore[attr-defined]
    await clinician.select_option("#f-test", "malaria_rdt")  # type: ignore[attr-defined]
    await clinician.click("#labs button:text('Order')")  # type: ignore[attr-defined]
    await clinician.wait_for_selector("text=waiting for the result")  # type: ignore[attr-defined]
    await shot(clinician, "07-consultation")
    await clinician.click("text=Send to Laboratory")  # type: ignore[attr-defined]
    await clinician.wait_for_url("**/queue")  # type: ignore[attr-defined]

    lab = await device(browser, base)
    await log_in(lab, "Baraka")
    await lab.wait_for_url("**/lab")  # type: ignore[attr-defined]
    await shot(lab, "08-lab-worklist")
    await lab.select_option(".worklist select[name=value]", "positive")  # type: ignore[attr-defined]
    await lab.click("text=Save the result")  # type: ignore[attr-defined]
    await lab.wait_for_selector("text=No tests waiting.")  # type: ignore[attr-defined]

    await clinician.goto("/queue")  # type: ignore[attr-defined]
    await clinician.click("text=Open chart")  # type: ignore[attr-defined]
    await clinician.wait_for_selector(".result.positive:text('Positive')")  # type: ignore[attr-defined]
    await clinician.click("text=Send to Pharmacy")  # type: ignore[attr-defined]
    await clinician.wait_for_url("**/queue")  # type: ignore[attr-defined]

    await pharmacy.goto("/pharmacy")  # type: ignore[attr-defined]
    await pharmacy.wait_for_selector("text=Mwanaisha Otieno")  # type: ignore[attr-defined]
    await shot(pharmacy, "09-pharmacy")
    await pharmacy.click("button:text-is('Dispense')")  # type: ignore[attr-defined]
    await pharmacy.wait_for_selector("text=No prescriptions waiting.")  # type: ignore[attr-defined]
    assert {s.drug_id: s.level for s in await clinic.stock()}["amoxicillin-250"] == 25

    queue = await clinic.queue_today((await clinic.visits("2000-01-01", "2100-01-01"))[0].day)
    assert [q.station for q in queue] == ["done"]
    await admin.goto("/reports")  # type: ignore[attr-defined]
    await admin.wait_for_selector("text=Infectious and parasitic diseases")  # type: ignore[attr-defined]
    await shot(admin, "10-reports")
    await admin.goto("/sync")  # type: ignore[attr-defined]
    await shot(admin, "11-sync")
    patient = (await clinic.search_patients("Mwanaisha"))[0].id
    await admin.goto(f"/patients/{patient}/history")  # type: ignore[attr-defined]
    await shot(admin, "12-chart-history")

    swahili = await device(browser, base, locale="sw-KE")
    await swahili.goto("/login")  # type: ignore[attr-defined]
    assert await swahili.get_attribute("html", "lang") == "sw"  # type: ignore[attr-defined]
    await log_in(swahili, "Zawadi")
    await swahili.click(".who-menu summary")  # type: ignore[attr-defined]
    await swahili.select_option("#language", "sw")  # type: ignore[attr-defined]
    await swahili.wait_for_selector("text=Foleni ya leo")  # type: ignore[attr-defined]
    await shot(swahili, "13-queue-swahili")


@pytest.mark.asyncio
async def test_keyboard_login_and_idle_lock(browser: object, tmp_path: Path) -> None:
    store = make_store("memory", tmp_path)
    await store.start()  # type: ignore[attr-defined]
    clinic = make_service(store)
    await clinic.set_up_facility("Kibera Health Post", "Amina", hash_pin(PIN), "en")
    async with serve(clinic, idle_lock_s=4.0) as base:  # long enough to log in on a busy CI
        page = await device(browser, base)
        await page.goto("/login")  # type: ignore[attr-defined]
        await page.keyboard.type("Amina")  # type: ignore[attr-defined]  # name has autofocus
        await page.keyboard.press("Tab")  # type: ignore[attr-defined]
        await page.keyboard.type(PIN)  # type: ignore[attr-defined]
        await page.keyboard.press("Enter")  # type: ignore[attr-defined]
        await page.wait_for_url("**/queue")  # type: ignore[attr-defined]
        # Left alone, the screen locks by itself; the PIN brings the user back.
        await page.wait_for_url("**/lock")  # type: ignore[attr-defined]
        await shot(page, "14-lock")
        await page.fill("#f-pin", PIN)  # type: ignore[attr-defined]
        await page.keyboard.press("Enter")  # type: ignore[attr-defined]
        await page.wait_for_url("**/queue")  # type: ignore[attr-defined]
    await store.stop()  # type: ignore[attr-defined]
