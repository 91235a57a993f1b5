"""The medication path clicked through in Chromium (issue 13): a penicillin allergy, amoxicillin
prescribed, the warning, an override with its reason, the pharmacist seeing the allergy and the
override, and the dispense taking exactly the prescribed drug out of stock. A 100-character
name keeps the pages at the screen's width. Screenshots at 800×1280 of the chart, the pharmacy
worklist and the history in the four languages go to artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from chromium import NEEDS_CHROMIUM, launched_chromium, shot
from test_ui_browser import log_in, serve
from ui_service.ui_service_helpers import make_service, make_store

from ui.auth import hash_pin

PIN = "135702"
PORTRAIT = {"width": 800, "height": 1280}
WAIT_MS = 10_000
LONG_NAME = "Wanjiru" * 14 + "Aa"  # 100 letters without a break

pytestmark = NEEDS_CHROMIUM


async def _page(browser: object, base: str) -> object:
    context = await browser.new_context(  # type: ignore[attr-defined]
        base_url=base, viewport=PORTRAIT, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    return await context.new_page()


async def _width(page: object) -> int:
    return int(await page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth"))


@pytest.mark.asyncio
async def test_penicillin_allergy_to_an_override_and_the_exact_dispense(tmp_path: Path) -> None:
    store = make_store("memory", tmp_path)
    await store.start()  # type: ignore[attr-defined]
    clinic = make_service(store)
    admin = await clinic.set_up_facility("Kibera Health Post", "Amina", hash_pin(PIN), "en")
    await clinic.add_user("Daktari", ("clinician",), hash_pin(PIN), "en", by=admin.id)
    await clinic.add_user("Neema", ("pharmacy",), hash_pin(PIN), "en", by=admin.id)
    for language in ("en", "fr", "es", "sw"):
        await clinic.add_user(f"Reader {language}", ("clinician", "pharmacy"), hash_pin(PIN),
                              language, by=admin.id)
    for drug in ("amoxicillin-250", "cotrimoxazole-480"):
        await clinic.receive_stock(drug, 100, "delivery", by=admin.id)
    day = clinic.clinic.today().isoformat()
    patient = await clinic.register_patient({"given_name": "Mwanaisha", "family_name": "Otieno",
                                             "sex": "female", "estimated_age_years": 34},
                                            day, by=admin.id)
    await clinic.check_in(patient, day, by=admin.id)
    await clinic.record_triage(patient, {"category": "queue", "note": "walked in, tired",
                                         "vitals": {"systolic_mmhg": 150, "diastolic_mmhg": 95,
                                                    "pulse_bpm": 88, "weight_kg": 61.5}},
                               by=admin.id)
    await clinic.record_triage(patient, {"category": "priority", "vitals": {
        "temperature_c": 39.2}, "note": "fever since last night"}, by=admin.id)
    order = await clinic.order_lab(patient, {"test": "Haemoglobin", "code": "hb"}, by=admin.id)
    await clinic.record_lab_result(patient, {"order_id": order, "value": 6.4}, by=admin.id)
    long_one = await clinic.register_patient({"given_name": LONG_NAME, "family_name": "Otieno",
                                              "sex": "female", "estimated_age_years": 20},
                                             day, by=admin.id)
    await clinic.check_in(long_one, day, by=admin.id)
    before = {s.drug_id: s.level for s in await clinic.stock()}
    try:
        async with serve(clinic) as base, launched_chromium() as browser:
            doctor = await _page(browser, base)
            await log_in(doctor, "Daktari")
            await doctor.goto("/queue")  # type: ignore[attr-defined]
            assert await _width(doctor) <= PORTRAIT["width"], "a long name widens the queue"
            await doctor.goto(f"/patients/{long_one}/card")  # type: ignore[attr-defined]
            assert await _width(doctor) <= PORTRAIT["width"], "a long name widens the card"

            await doctor.goto(f"/patients/{patient}")  # type: ignore[attr-defined]
            await doctor.select_option("#f-allergen", "J01C")  # type: ignore[attr-defined]
            await doctor.click("text=Add the allergy")  # type: ignore[attr-defined]
            await doctor.wait_for_selector(".allergy-banner:has-text('Penicillins')")  # type: ignore[attr-defined]
            await doctor.click("summary:text('Prescribe')")  # type: ignore[attr-defined]
            await doctor.select_option("#f-drug_id", "amoxicillin-250")  # type: ignore[attr-defined]
            await doctor.fill("#f-dose", "500")  # type: ignore[attr-defined]
            await doctor.select_option("#f-dose_unit", "mg")  # type: ignore[attr-defined]
            await doctor.fill("#f-duration_days", "5")  # type: ignore[attr-defined]
            await doctor.fill("#f-quantity", "15")  # type: ignore[attr-defined]
            await doctor.click("#medicines button[type=submit]")  # type: ignore[attr-defined]
            warning = await doctor.text_content("#e-drug")  # type: ignore[attr-defined]
            assert warning and "Allergy warning" in warning and "Penicillins" in warning
            await shot(doctor, "issue13-allergy-warning")
            await doctor.fill("#f-override_reason", "took amoxicillin in 2025, no reaction")  # type: ignore[attr-defined]
            await doctor.click("#medicines button[type=submit]")  # type: ignore[attr-defined]
            await doctor.wait_for_selector("#medicines .entries strong:text('Amoxicillin')")  # type: ignore[attr-defined]
            assert not (await clinic.get_chart(patient, by="")).of_kind("dispensation")

            for language in ("en", "fr", "es", "sw"):
                reader = await _page(browser, base)
                await log_in(reader, f"Reader {language}")
                await reader.goto(f"/patients/{patient}")  # type: ignore[attr-defined]
                await shot(reader, f"issue13-chart-{language}")
                await reader.goto("/pharmacy")  # type: ignore[attr-defined]
                await shot(reader, f"issue13-pharmacy-{language}")
                await reader.goto(f"/patients/{patient}/history")  # type: ignore[attr-defined]
                await shot(reader, f"issue13-history-{language}")
                assert await _width(reader) <= PORTRAIT["width"], language

            chemist = await _page(browser, base)
            await log_in(chemist, "Neema")
            await chemist.goto("/pharmacy")  # type: ignore[attr-defined]
            item = "#worklist li:has-text('Mwanaisha Otieno')"
            await chemist.wait_for_selector(f"{item} .allergy-banner:has-text('Penicillins')")  # type: ignore[attr-defined]
            await chemist.wait_for_selector(  # type: ignore[attr-defined]
                f"{item}:has-text('Prescribed despite the allergy by Daktari: "
                "took amoxicillin in 2025, no reaction')")
            assert await chemist.locator(f"{item} select").count() == 0  # type: ignore[attr-defined]
            await chemist.click(f"{item} button:text-is('Dispense')")  # type: ignore[attr-defined]
            await chemist.wait_for_selector("text=No prescriptions waiting.")  # type: ignore[attr-defined]
    finally:
        after = {s.drug_id: s.level for s in await clinic.stock()}
        await store.stop()  # type: ignore[attr-defined]
    assert after == {**before, "amoxicillin-250": 85}, "only the prescribed drug left the shelf"
