"""Batches, the stock card, the dispensing label and the printable lab result in Chromium at
800x1280: the pharmacist receives a batch with its expiry date, dispenses, prints the label,
reads the stock card (an expired batch flagged); the clinician prints a lab result. Every page
fits the tablet and prints without the app around it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from chromium import NEEDS_CHROMIUM, launched_chromium, shot
from test_ui_browser import serve
from test_ui_browser_consultation import PIN, _fits, _tablet
from ui_helpers import Clock
from ui_service.ui_service_helpers import make_service, make_store

from ui.auth import hash_pin

pytestmark = NEEDS_CHROMIUM
PATIENT = {"given_name": "Neema", "family_name": "Mwangi", "sex": "female",
           "estimated_age_years": 29}
PRESCRIPTION = {"drug": "Amoxicillin 250 mg capsule", "dose": 1, "dose_unit": "capsule",
                "route": "oral", "frequency": "3x/day", "duration_days": 5, "quantity": 15,
                "instructions": "after meals"}


@pytest_asyncio.fixture
async def pharmacy_ui(tmp_path: Path) -> AsyncIterator[tuple[str, Any, Any, Clock, dict[str, str]]]:
    """A pharmacist, a clinician, a patient with a prescription and a haemoglobin result."""
    clock = Clock(time.time())
    store = make_store("memory", tmp_path)
    await store.start()  # type: ignore[attr-defined]
    try:
        clinic = make_service(store, clock.ms, clock.today)
        await clinic.set_up_facility("Kibera Health Post", "Amina", hash_pin(PIN), "en")
        for name, role in (("Dawa", "pharmacy"), ("Wanjiru", "clinician")):
            await clinic.add_user(name, (role,), hash_pin(PIN), "en", by="")
        day = clock.today().isoformat()
        patient = await clinic.admit_patient(PATIENT, day, by="")
        drug = await clinic.add_drug("Amoxicillin 250 mg capsule", "capsule", 20, by="")
        await clinic.receive_stock(drug, 40, "old delivery", by="", batch="GONE-1",
                                   expires=(clock.today() - timedelta(days=3)).isoformat())
        await clinic.prescribe(patient, {**PRESCRIPTION, "drug_id": drug}, by="")
        order = await clinic.order_lab(patient, {"test": "Haemoglobin", "code": "hb"}, by="")
        await clinic.record_lab_result(patient, {"order_id": order, "value": 9.4}, by="")
        async with serve(clinic, clock=clock) as base, launched_chromium() as chromium:
            yield base, chromium, clinic, clock, {"patient": patient, "drug": drug,
                                                  "order": order}
    finally:
        await store.stop()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_batch_received_dispensed_labelled_and_a_lab_result_printed(
    pharmacy_ui: tuple[str, Any, Any, Clock, dict[str, str]],
) -> None:
    base, chromium, _clinic, clock, ids = pharmacy_ui
    page = await _tablet(chromium, base, "Dawa")
    clock.advance(60)  # the movements are ordered by time
    await page.goto("/pharmacy")
    await page.select_option("#r-drug", ids["drug"])
    await page.fill("#r-qty", "100")
    await page.fill("#r-batch", "AMX-2027-04")
    await page.fill("#r-expires", (clock.today() + timedelta(days=500)).isoformat())
    await page.click("form[action='/pharmacy/receive'] button[type=submit]")
    await page.wait_for_url("**/pharmacy#stock")
    alert = await page.inner_text(".warning.expiring")
    assert "GONE-1" in alert and "AMX-2027-04" not in alert
    await _fits(page)

    clock.advance(60)
    await page.click("#worklist form[action='/pharmacy/dispense'] button[type=submit]")
    await page.wait_for_url("**/pharmacy?label=**")
    await page.click("text=Print the label")
    await page.wait_for_url(f"**/patients/{ids['patient']}/labels/*")
    label = await page.inner_text("article.dispensing-label")
    assert "Amoxicillin 250 mg capsule" in label and "after meals" in label and "15" in label
    await page.emulate_media(media="print")
    assert not await page.is_visible("header nav")
    await shot(page, "46-dispensing-label-print")
    await page.emulate_media(media="screen")

    await page.goto(f"/pharmacy/stock/{ids['drug']}")
    expired = await page.inner_text("tr[data-batch='GONE-1']")
    assert "Expired: do not give" in expired and "40" in expired
    given = await page.inner_text("table.movements tbody tr")  # newest first
    assert "Dispensed" in given and "AMX-2027-04" in given and "-15" in given
    await _fits(page)
    await shot(page, "47-stock-card")

    doctor = await _tablet(chromium, base, "Wanjiru")
    await doctor.goto(f"/patients/{ids['patient']}")
    await doctor.click(f"a[href='/patients/{ids['patient']}/lab/{ids['order']}']")
    report = await doctor.inner_text("article.lab-report")
    assert "9.4 g/dL" in report and "12–15.5 g/dL" in report and "Abnormal" in report
    await _fits(doctor)
    await doctor.emulate_media(media="print")
    assert await doctor.is_visible("article.lab-report")
    assert not await doctor.is_visible("button.js-print")
    await shot(doctor, "48-lab-result-print")
