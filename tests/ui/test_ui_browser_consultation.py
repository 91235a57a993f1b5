"""The consultation in Chromium at 800x1280: a clinician writes the four sections and a
follow-up day, sees the visit under past visits with its diagnosis and medicine, refers the
patient and gets a letter that prints without the app around it; a week later the desk finds
the patient on that day's queue page and checks them in."""

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
from ui_helpers import Clock
from ui_service.ui_service_helpers import make_service, make_store

from ui.auth import hash_pin

pytestmark = NEEDS_CHROMIUM
WAIT_MS = 10_000
PIN = "135702"
TABLET = {"width": 800, "height": 1280}
PATIENT = {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
           "estimated_age_years": 46, "village": "Kondele"}
PRESCRIPTION = {"drug": "Amlodipine 5 mg tablet", "dose": 1, "dose_unit": "tablet",
                "route": "oral", "frequency": "1x/day", "duration_days": 30, "quantity": 30}
WEEK_S = 7 * 24 * 3600


@pytest_asyncio.fixture
async def clinic_ui(tmp_path: Path) -> AsyncIterator[tuple[str, Any, Clock, str]]:
    """A clinic with a clinician and a desk user, and a patient seen today."""
    clock = Clock(time.time())
    store = make_store("memory", tmp_path)
    await store.start()  # type: ignore[attr-defined]
    try:
        clinic = make_service(store, clock.ms, clock.today)
        await clinic.set_up_facility("Kibera Health Post", "Amina", hash_pin(PIN), "en")
        for name, role in (("Wanjiru", "clinician"), ("Desk", "registration")):
            await clinic.add_user(name, (role,), hash_pin(PIN), "en", by="")
        patient = await clinic.admit_patient(PATIENT, clock.today().isoformat(), by="")
        await clinic.add_diagnosis(patient, {"code": "I10", "label": "Essential hypertension"},
                                   by="")
        await clinic.prescribe(patient, PRESCRIPTION, by="")
        async with serve(clinic, clock=clock) as base, launched_chromium() as chromium:
            yield base, chromium, clock, patient
    finally:
        await store.stop()  # type: ignore[attr-defined]


async def _tablet(chromium: Any, base: str, name: str) -> Any:
    context = await chromium.new_context(base_url=base, viewport=TABLET, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#f-name", name)
    await page.fill("#f-pin", PIN)
    await page.click("button.primary.big")
    await page.wait_for_selector("nav")
    return page


async def _fits(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= TABLET["width"], f"{page.url} scrolls sideways: {width} px"


@pytest.mark.asyncio
async def test_consultation_referral_letter_and_follow_up_on_the_queue(
    clinic_ui: tuple[str, Any, Clock, str],
) -> None:
    base, chromium, clock, patient = clinic_ui
    doctor = await _tablet(chromium, base, "Wanjiru")
    await doctor.goto(f"/patients/{patient}")
    await doctor.fill("#f-presenting_complaint", "Headache and blurred vision for three days")
    await doctor.fill("#f-history", "Hypertension since 2019, stopped his tablets in January")
    await doctor.fill("#f-examination", "BP 182/114, no focal neurological signs")
    await doctor.fill("#f-plan", "Restart amlodipine; review in one week")
    follow_up = (clock.today() + timedelta(days=7)).isoformat()
    await doctor.fill("#f-follow_up", follow_up)
    await doctor.click("form.consultation-form button[type=submit]")
    await doctor.wait_for_url("**#visits")
    visit = doctor.locator("#visits li.visit").first
    said = await visit.inner_text()
    for shown in ("Headache and blurred vision", "BP 182/114", "Restart amlodipine",
                  "Essential hypertension", "Amlodipine 5 mg tablet"):
        assert shown in said, shown
    await _fits(doctor)
    await shot(doctor, "43-consultation-past-visits")

    await doctor.click("#visits details.form-box summary")
    await doctor.fill("#f-to", "Jaramogi Oginga Odinga Teaching and Referral Hospital")
    await doctor.fill("#f-referral-reason", "Hypertensive urgency not controlled after two days")
    await doctor.click("#visits details.form-box button[type=submit]")
    await doctor.wait_for_url(f"**/patients/{patient}/referrals/*")
    letter = await doctor.inner_text("article.letter")
    for shown in ("Referral letter", "Jaramogi Oginga Odinga", "Baraka Otieno",
                  "Headache and blurred vision", "I10", "Amlodipine 5 mg tablet", "Wanjiru"):
        assert shown in letter, shown
    await _fits(doctor)
    await doctor.emulate_media(media="print")
    assert await doctor.is_visible("article.letter")
    assert not await doctor.is_visible("header nav")
    assert not await doctor.is_visible("button.js-print")
    await shot(doctor, "44-referral-letter-print")

    # A week later the desk sees who is expected back, and checks them in.
    clock.advance(WEEK_S)
    desk = await _tablet(chromium, base, "Desk")
    await desk.goto("/queue")
    expected = desk.locator(f"li[data-follow-up='{patient}']")
    await expected.wait_for()
    assert "Baraka Otieno" in await expected.inner_text()
    await _fits(desk)
    await shot(desk, "45-queue-follow-ups")
    await expected.locator("button[type=submit]").click()
    await desk.wait_for_url("**/queue")
    await desk.locator(f"li[data-follow-up='{patient}']:has-text('Checked in')").wait_for()
