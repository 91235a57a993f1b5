"""A whole clinic day clicked through in Chromium, one browser context (device) per role, with
tablet-width screenshots of each main page in artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from chromium import NEEDS_CHROMIUM, TABLET, launched_chromium, shot
from test_ui_attachments import PNG
from test_ui_i18n import english_only_phrases, visible_text
from ui_service.ui_service_helpers import make_service, make_store

from ui import clinical, i18n
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


@pytest_asyncio.fixture(params=["memory", "sqlcipher"], loop_scope="module")
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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def day_browser() -> AsyncIterator[object]:
    """One Chromium for every language's day (each day's devices are new contexts)."""
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


class Day:
    """One clinic day in one language: its words (the UI's own catalog), the English phrases
    that must not show on a translated page, and the pages looked at."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.english = english_only_phrases(language) if language != "en" else set()
        self.pages_checked = 0

    def t(self, message: str, **values: object) -> str:
        """`message` as the UI says it in this day's language."""
        with i18n.speaking(self.language):
            said = i18n.gettext(message)
        return said % values if values else said

    async def shot(self, page: Any, name: str) -> None:
        """A screenshot of the English day only (they cost seconds each)."""
        if self.language == "en":
            await shot(page, name)

    async def translated(self, page: Any) -> None:
        """No English left on the page (on a translated day); `<html lang>` is the day's."""
        assert await page.get_attribute("html", "lang") == self.language, page.url
        self.pages_checked += 1
        if self.english:
            leftovers = [t for t in visible_text(await page.content()) if t in self.english]
            assert not leftovers, f"{self.language} {page.url}: English left: {leftovers[:5]}"


async def press(page: Any, text: str) -> None:
    """Click the button, link or summary whose whole text is `text`."""
    await page.locator("button, a, summary").get_by_text(text, exact=True).first.click()


async def day_device(browser: object, base: str, day: Day) -> Any:
    """A tablet whose browser asks for the day's language."""
    return await device(browser, base, locale=LOCALES[day.language])


async def day_user(page: Any, day: Day, name: str, role: str) -> None:
    await page.goto("/users")
    await page.fill("#f-name", name)
    await page.check(f"form[action='/users'] input[name=roles][value={role}]")
    await page.fill("#f-pin", PIN)
    await page.select_option("#f-language", day.language)
    await press(page, day.t("Add this person"))
    await page.wait_for_selector(f".users strong:text-is('{name}')")


# The whole day: a clinic set up, staff added, stock received in batches, a patient registered
# with a photo, triaged, seen (allergy, diagnosis, prescription, lab order, consultation
# sections, follow-up), tested, given a printable result, dispensed first-expiry-first-out with
# a printable label, and a shelf count per batch; reports, sync and history pages at the end.
# One day per language; one of them on SQLCipher, the store a clinic runs on (a fifth day,
# English on SQLCipher, would add half a minute to CI and test nothing the four do not).
DAYS = [("memory", "en"), ("memory", "es"), ("memory", "fr"), ("sqlcipher", "sw")]
LOCALES = {"en": "en-GB", "es": "es-ES", "fr": "fr-FR", "sw": "sw-KE"}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("server", "language"), DAYS, indirect=["server"])
async def test_a_clinic_day_from_set_up_to_dispensing(
    server: tuple[str, ClinicService], day_browser: object, language: str
) -> None:
    base, clinic = server
    browser = day_browser
    day = Day(language)
    t = day.t
    admin = await day_device(browser, base, day)
    await admin.goto("/")
    await admin.wait_for_url("**/setup")
    await admin.fill("#f-facility_name", "Kibera Health Post")
    await admin.fill("#f-name", "Amina")
    await admin.fill("#f-pin", "246813")
    await admin.fill("#f-pin_again", "246813")
    await day.translated(admin)
    await day.shot(admin, "01-first-run-setup")
    await press(admin, t('Create the clinic'))
    await admin.wait_for_url("**/users")
    for name, role in (("Rehema", "registration"), ("Zawadi", "nurse"),
                       ("Daktari", "clinician"), ("Baraka", "lab"), ("Neema", "pharmacy")):
        await day_user(admin, day, name, role)
    await day.translated(admin)
    await day.shot(admin, "02-users")

    pharmacy = await day_device(browser, base, day)
    await log_in(pharmacy, "Neema")
    await pharmacy.fill("#n-name", "Cefalexin 250 mg")
    await pharmacy.fill("#n-reorder", "30")
    await press(pharmacy, t('Add the medicine'))
    await pharmacy.wait_for_selector("td:text('Cefalexin 250 mg')")
    # Amoxicillin is one of the essential medicines the facility started with; two batches
    # arrive, the one expiring first is given first.
    today = date.today()  # the server keeps real time
    for batch, quantity, days in (("AMX-LATE", 30, 700), ("AMX-SOON", 10, 200)):
        await pharmacy.select_option("#r-drug", "amoxicillin-250")
        await pharmacy.fill("#r-qty", str(quantity))
        await pharmacy.fill("#r-batch", batch)
        await pharmacy.fill("#r-expires", (today + timedelta(days=days)).isoformat())
        await press(pharmacy, t('Add to stock'))
        await pharmacy.wait_for_selector(f"#stock li[data-batch='{batch}']")
    await day.translated(pharmacy)

    nurse = await day_device(browser, base, day)
    await log_in(nurse, "Zawadi")
    await nurse.goto("/queue")
    await nurse.wait_for_selector("#live[data-connected]")

    reception = await day_device(browser, base, day)
    await log_in(reception, "Rehema")
    await reception.goto("/patients")
    await reception.fill("#q", "Mwanaisha")
    await reception.press("#q", "Enter")
    await press(reception, t("Register a new patient"))
    await reception.fill("#f-family_name", "Otieno")
    await reception.check("input[name=sex][value=female]")
    await reception.fill("#f-age_years", "abc")
    await reception.set_input_files("#f-photo", files=[{
        "name": "scan.pdf", "mimeType": "image/jpeg", "buffer": b"%PDF-1.4 not a photo"}])
    await reception.click("button.primary.big")
    await reception.wait_for_selector("#e-age_years")
    await reception.wait_for_selector("#e-photo")  # every problem at once, nothing registered
    await day.translated(reception)
    await day.shot(reception, "03-registration-errors")
    assert await clinic.search_patients("Otieno") == []
    await reception.fill("#f-age_years", "34")
    await reception.fill("#f-village", "Kisumu Ndogo")
    await reception.fill("#f-phone", "+254 712 345678")
    await reception.set_input_files("#f-photo", files=[{
        "name": "camera.png", "mimeType": "image/png", "buffer": PNG}])
    await reception.click("button.primary.big")
    await reception.wait_for_selector(".patient-card svg")
    await reception.wait_for_selector(".card-photo")
    await day.translated(reception)
    await day.shot(reception, "04-patient-card")
    await reception.goto("/patients?q=mwanaisa+otieno")
    await reception.wait_for_selector(".results li:has-text('Mwanaisha Otieno')")
    await day.translated(reception)
    await day.shot(reception, "04b-search-misspelt")

    # The nurse's queue, open on another device, shows the patient without a reload.
    await nurse.wait_for_selector("text=Mwanaisha Otieno")
    await day.translated(nurse)
    await day.shot(nurse, "05-queue")
    await press(nurse, t('Start triage'))
    await nurse.fill("#f-temperature_c", "73")
    await nurse.check("input[name=category][value=priority]")
    await press(nurse, t('Save and send to consultation'))
    await nurse.wait_for_selector("#e-temperature_c")
    await day.translated(nurse)
    await nurse.fill("#f-temperature_c", "38.9")
    await nurse.fill("#f-pulse_bpm", "112")
    await nurse.fill("#f-systolic_mmhg", "118")
    await nurse.fill("#f-diastolic_mmhg", "76")
    await nurse.fill("#f-weight_kg", "61.5")
    await day.shot(nurse, "06-triage")
    await press(nurse, t('Save and send to consultation'))
    await nurse.wait_for_url("**/queue")

    clinician = await day_device(browser, base, day)
    await log_in(clinician, "Daktari")
    await clinician.goto("/queue")
    await press(clinician, t('Open chart'))
    await clinician.wait_for_selector(".patient-photo")
    await clinician.fill("#f-substance", "Sulfa drugs")
    await press(clinician, t('Add the allergy'))
    await clinician.wait_for_selector(".allergy-banner")
    await clinician.fill("#dx", "malaria")
    await clinician.press("#dx", "Enter")
    await clinician.click(".dx-results li:has-text('B54') button")
    await clinician.wait_for_selector("#problems .entries .code:text('B54')")
    await press(clinician, t("Prescribe"))
    await clinician.select_option("#f-drug_id", "amoxicillin-250")
    await clinician.fill("#f-dose", "250")
    await clinician.select_option("#f-dose_unit", "mg")
    await clinician.fill("#f-duration_days", "5")
    await clinician.fill("#f-quantity", "15")
    await clinician.click("#medicines button[type=submit]")
    await clinician.wait_for_selector("#medicines .entries strong:text('Amoxicillin')")
    await clinician.select_option("#f-test", "malaria_rdt")
    await clinician.click("#labs button[type=submit]")
    await clinician.get_by_text(t('waiting for the result')).first.wait_for()
    await clinician.fill("#f-presenting_complaint", "Fever and headache for two days")
    await clinician.fill("#f-history", "No travel; sleeps without a net")
    await clinician.fill("#f-examination", "Febrile, no neck stiffness")
    await clinician.fill("#f-plan", "Treat if the malaria test is positive; review")
    await clinician.fill("#f-follow_up", (today + timedelta(days=7)).isoformat())
    await clinician.click("form.consultation-form button[type=submit]")
    await clinician.wait_for_url("**#visits")
    visit = await clinician.locator("#visits li.visit").first.inner_text()
    assert "Fever and headache" in visit and "Febrile, no neck stiffness" in visit
    await day.translated(clinician)
    await day.shot(clinician, "07-consultation")
    lab_station = t(clinical.STATION_LABELS["lab"])
    await press(clinician, t('Send to %(station)s', station=lab_station))
    await clinician.wait_for_url("**/queue")

    lab = await day_device(browser, base, day)
    await log_in(lab, "Baraka")
    await lab.wait_for_url("**/lab")
    await day.translated(lab)
    await day.shot(lab, "08-lab-worklist")
    await lab.select_option(".worklist select[name=value]", "positive")
    await press(lab, t('Save the result'))
    await lab.get_by_text(t('No tests waiting.')).first.wait_for()

    await clinician.goto("/queue")
    await press(clinician, t('Open chart'))
    await clinician.locator(".result.positive").get_by_text(t("Positive")).wait_for()
    await press(clinician, t('Print the result'))
    await clinician.wait_for_url("**/lab/*")
    report = await clinician.inner_text("article.lab-report")
    assert "Mwanaisha Otieno" in report and t("Positive") in report
    await day.translated(clinician)
    await day.shot(clinician, "08b-lab-result-print")
    await clinician.go_back()
    pharmacy_station = t(clinical.STATION_LABELS["pharmacy"])
    await press(clinician, t('Send to %(station)s', station=pharmacy_station))
    await clinician.wait_for_url("**/queue")
    await day.translated(clinician)

    await pharmacy.goto("/pharmacy")
    await pharmacy.wait_for_selector("text=Mwanaisha Otieno")
    await day.translated(pharmacy)
    await day.shot(pharmacy, "09-pharmacy")
    await pharmacy.click("#worklist form[action='/pharmacy/dispense'] button[type=submit]")
    await pharmacy.get_by_text(t('No prescriptions waiting.')).first.wait_for()
    await press(pharmacy, t('Print the label'))
    await pharmacy.wait_for_url("**/labels/*")
    label = await pharmacy.inner_text("article.dispensing-label")
    assert "Mwanaisha Otieno" in label and "15" in label
    await day.translated(pharmacy)
    await day.shot(pharmacy, "09b-dispensing-label")
    # First expiry first out: the 10 of AMX-SOON, then 5 of AMX-LATE. The shelf count finds
    # one capsule of AMX-LATE missing.
    await pharmacy.goto("/pharmacy/stock/amoxicillin-250")
    count = pharmacy.locator("form.stock-count")
    assert "AMX-SOON" not in await count.inner_text()  # used up: nothing to count
    late = count.locator("tr[data-batch='AMX-LATE']")
    assert "25" in await late.inner_text()
    await late.locator("input[name^=counted]").fill("24")
    await count.locator("#c-reason").fill("Monthly count")
    await count.locator("button[type=submit]").click()
    await pharmacy.wait_for_url("**counted=1**")
    await day.translated(pharmacy)
    await day.shot(pharmacy, "09c-stock-count")
    card = await clinic.stock_card("amoxicillin-250")
    assert {b.batch: b.level for b in card.batches} == {"AMX-SOON": 0, "AMX-LATE": 24}

    day_of_visit = (await clinic.visits("2000-01-01", "2100-01-01"))[0].day
    queue = await clinic.queue_today(day_of_visit)
    assert [q.station for q in queue] == ["done"]
    await admin.goto("/reports")
    await admin.get_by_text(t('Infectious and parasitic diseases')).first.wait_for()
    await day.translated(admin)
    await day.shot(admin, "10-reports")
    await admin.goto("/sync")
    await day.translated(admin)
    await day.shot(admin, "11-sync")
    patient = (await clinic.search_patients("Mwanaisha"))[0].id
    await admin.goto(f"/patients/{patient}/history")
    await day.translated(admin)
    await day.shot(admin, "12-chart-history")
    assert day.pages_checked >= 18

    if language == "en":  # a user switches language from the menu
        swahili = await device(browser, base, locale="sw-KE")
        await swahili.goto("/login")
        assert await swahili.get_attribute("html", "lang") == "sw"
        await log_in(swahili, "Zawadi")
        await swahili.click(".who-menu summary")
        await swahili.select_option("#language", "sw")
        await swahili.wait_for_selector("text=Foleni ya leo")
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
