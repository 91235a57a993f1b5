"""Issue 14 in Chromium at 800×1280: users changed and disabled by the admin, a patient's
details corrected and a duplicate merged, the short number on the card and in search,
reports with charts; every page fits 800 px and the header is one row, for every role and
language."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from chromium import NEEDS_CHROMIUM, launched_chromium, shot
from test_ui_browser import serve
from ui_service.ui_service_helpers import make_service, make_store

from ui.auth import hash_pin

pytestmark = NEEDS_CHROMIUM
WAIT_MS = 10_000
PIN = "135702"
TABLET = {"width": 800, "height": 1280}
ROLES = ("registration", "nurse", "clinician", "lab", "pharmacy", "admin")
PATIENT = {"given_name": "Mwanaisha", "family_name": "Otieno", "sex": "female",
           "estimated_age_years": 34, "village": "Kisumu Ndogo", "phone": "+254 712 345678"}
# A row of the header is one touch target high plus padding; two rows would be twice that.
ONE_ROW_PX = 72


@pytest_asyncio.fixture
async def clinic_ui(tmp_path: Path) -> AsyncIterator[tuple[str, Any, dict[str, str]]]:
    """A clinic with a user of every role, a patient seen today and a duplicate of them."""
    store = make_store("memory", tmp_path)
    await store.start()  # type: ignore[attr-defined]
    try:
        clinic = make_service(store)
        await clinic.set_up_facility("Kibera Health Post", "Amina", hash_pin(PIN), "en")
        for role in ROLES[:-1]:
            await clinic.add_user(role.title(), (role,), hash_pin(PIN), "en", by="")
        day = clinic.clinic.today().isoformat()
        ids = {"patient": await clinic.admit_patient(PATIENT, day, by="")}
        await clinic.add_diagnosis(ids["patient"], {"code": "B54", "label": "Malaria"}, by="")
        ids["duplicate"] = await clinic.register_patient(
            {**PATIENT, "given_name": "Mwanaisa", "phone": "0799 111222"}, day, by="")
        async with serve(clinic) as base, launched_chromium() as chromium:
            yield base, (chromium, clinic), ids
    finally:
        await store.stop()  # type: ignore[attr-defined]


async def device(chromium: Any, base: str, name: str, locale: str = "en-GB") -> Any:
    """A logged-in tablet of `name` (a new browser context: its own cookies)."""
    context = await chromium.new_context(base_url=base, viewport=TABLET, locale=locale)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await log_in(page, name)
    return page


async def log_in(page: Any, name: str, pin: str = PIN) -> None:
    await page.goto("/login")
    await page.fill("#f-name", name)
    await page.fill("#f-pin", pin)
    await page.click("button.primary.big")
    await page.wait_for_selector("nav")


async def fits(page: Any) -> dict[str, float]:
    """Widths and heights that say whether the page fits the tablet."""
    result: dict[str, float] = await page.evaluate("""() => {
        const nav = document.querySelector('header nav');
        return {page: document.documentElement.scrollWidth,
                header: document.querySelector('header').getBoundingClientRect().height,
                nav_hidden: nav ? nav.scrollWidth - nav.clientWidth : 0};
    }""")
    return result


@pytest.mark.asyncio
async def test_the_admin_changes_and_disables_users_on_the_tablet(
    clinic_ui: tuple[str, Any, dict[str, str]],
) -> None:
    base, (chromium, clinic), _ = clinic_ui
    nurse = await device(chromium, base, "Nurse")
    admin = await device(chromium, base, "Amina")
    await admin.goto("/users")
    row = admin.locator("li.user:has(strong:text-is('Nurse'))")
    await row.locator("summary:text('Change roles or language')").click()
    await row.locator("input[name=roles][value=lab]").check()
    await row.locator("select[name=language]").select_option("fr")
    await row.locator("button:text('Save the changes')").click()
    await admin.wait_for_selector("li.user:has(strong:text-is('Nurse')) :text('Laboratoire')"
                                  ", li.user:has(strong:text-is('Nurse')) :text('Laboratory')")
    await shot(admin, "14-users-changed")
    changed = next(u for u in await clinic.users() if u.name == "Nurse")
    assert changed.roles == ("lab", "nurse") and changed.language == "fr"
    await admin.locator("button:text('Disable Nurse')").click()
    await admin.wait_for_selector("li.user:has(strong:text-is('Nurse')) .badge")
    await shot(admin, "15-user-disabled")
    # The nurse's open session ends; logging in again is refused.
    await nurse.goto("/queue")
    assert "/login" in nurse.url
    await nurse.fill("#f-name", "Nurse")
    await nurse.fill("#f-pin", PIN)
    await nurse.click("button.primary.big")
    await nurse.wait_for_selector("#e-pin")
    await admin.locator("button:text('Enable Nurse again')").click()
    await admin.wait_for_selector("button:text('Disable Nurse')")
    await log_in(nurse, "Nurse")
    assert (await fits(admin))["page"] <= TABLET["width"]


@pytest.mark.asyncio
async def test_details_corrected_number_searched_and_duplicate_merged_on_the_tablet(
    clinic_ui: tuple[str, Any, dict[str, str]],
) -> None:
    base, (chromium, clinic), ids = clinic_ui
    desk = await device(chromium, base, "Registration")
    await desk.goto(f"/patients/{ids['patient']}/card")
    number = (await desk.inner_text(".card-number")).strip()
    assert number and await desk.locator(".qr svg").count() == 1
    await shot(desk, "16-card-with-number")
    await desk.goto("/patients")
    await desk.fill("#q", number)
    await desk.press("#q", "Enter")
    first = desk.locator(".results li").first
    assert "Mwanaisha Otieno" in await first.inner_text() and number in await first.inner_text()
    await first.locator("a:text('Correct the details')").click()
    await desk.fill("#f-phone", "0733 444555")
    await desk.fill("#f-national_id", "KE-99-1234")
    await desk.fill("#f-kin_name", "Achieng Otieno")
    await desk.fill("#f-kin_relation", "sister")
    await shot(desk, "17-edit-details")
    await desk.click("text=Save the details")
    await desk.wait_for_selector(".notice")
    clinician = await device(chromium, base, "Clinician")
    await clinician.goto(f"/patients/{ids['patient']}")
    head = await clinician.inner_text(".patient-head")
    assert "0733 444555" in head and "KE-99-1234" in head and number in head
    await shot(clinician, "18-chart-header-ids")

    await desk.goto(f"/patients/{ids['duplicate']}/edit")
    await desk.click("text=This is a duplicate: merge it")
    await desk.fill("#q", "otieno")
    await desk.press("#q", "Enter")
    await desk.click(f"a[href='/patients/{ids['duplicate']}/merge/{ids['patient']}']")
    sides = desk.locator(".merge-side")
    assert await sides.count() == 2
    boxes = [await sides.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and boxes[0]["y"] == boxes[1]["y"]  # side by side
    assert boxes[1]["x"] + boxes[1]["width"] <= TABLET["width"]
    await shot(desk, "19-merge-side-by-side")
    await desk.click("text=Same person: merge into the chart that stays")
    await desk.wait_for_selector("text=The duplicate chart is merged into this one.")
    merged = (await clinic.get_chart(ids["duplicate"], by="")).patient.merged_into
    assert merged == ids["patient"]


@pytest.mark.asyncio
async def test_reports_show_tables_and_charts_and_export_csv(
    clinic_ui: tuple[str, Any, dict[str, str]],
) -> None:
    base, (chromium, _), _ = clinic_ui
    clinician = await device(chromium, base, "Clinician")
    await clinician.goto("/reports?period=month")
    for section in ("visits-per-day", "top-diagnoses", "diagnoses-by-age-sex", "stock-consumed"):
        assert await clinician.locator(f"#{section}").count() == 1
    assert "B54" in await clinician.inner_text("#top-diagnoses")
    assert await clinician.locator("#visits-per-day svg rect").count() >= 28
    assert (await fits(clinician))["page"] <= TABLET["width"]
    await shot(clinician, "20-reports")
    async with clinician.expect_download() as download:
        await clinician.click("text=Download CSV")
    path = await (await download.value).path()
    assert "B54" in await asyncio.to_thread(Path(path).read_text)


@pytest.mark.asyncio
@pytest.mark.parametrize("locale", ["en-GB", "fr-FR", "es-ES", "sw-KE"])
async def test_every_page_fits_the_tablet_with_a_one_row_header_for_every_role(
    clinic_ui: tuple[str, Any, dict[str, str]], locale: str,
) -> None:
    base, (chromium, _), ids = clinic_ui
    pid = ids["patient"]
    pages = ["/queue", "/patients", "/patients?q=otieno", "/patients/new", f"/patients/{pid}",
             f"/patients/{pid}/triage", f"/patients/{pid}/card", f"/patients/{pid}/history",
             f"/patients/{pid}/edit", f"/patients/{pid}/merge?q=otieno",
             f"/patients/{pid}/merge/{ids['duplicate']}", "/lab", "/pharmacy", "/review",
             "/reports", "/reports?period=month", "/sync", "/users"]
    problems = []
    for role in ROLES:
        page = await device(chromium, base, "Amina" if role == "admin" else role.title(), locale)
        await page.click(".who-menu summary")
        await page.select_option("#language", locale[:2])
        await page.wait_for_selector(f"html[lang={locale[:2]}]")
        for path in pages if role == "admin" else ["/queue", "/sync"]:
            response = await page.goto(path)
            assert response.status == 200, (role, path)
            found = await fits(page)
            if (found["page"] > TABLET["width"] or found["header"] > ONE_ROW_PX
                    or found["nav_hidden"] > 0):
                problems.append((locale, role, path, found))
        await shot(page, f"21-header-{role}-{locale}")
    assert not problems, "\n".join(map(str, problems))
