"""The consultation in the UI: structured sections saved in today's visit and listed under the
past visits with the visit's diagnoses and medicines; a follow-up day that puts the patient on
that day's queue page; a referral whose letter is ready to print."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import ADMIN_PIN, Clock, log_in, post, set_up

from meshd.clinic_ui.service import NodeClinicService

PATIENT = {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
           "birth_date": "1979-08-21", "village": "Kondele"}
SECTIONS = {
    "presenting_complaint": "Headache and blurred vision for three days",
    "history": "Hypertension known since 2019; stopped his tablets in January",
    "examination": "BP 182/114, no focal signs, fundi not seen",
    "plan": "Restart amlodipine; review in one week",
}
DAY_S = 24 * 3600


async def _patient(clinic: NodeClinicService, clock: Clock) -> str:
    await set_up(clinic)
    return await clinic.register_patient(PATIENT, clock.today().isoformat(), by="")


@pytest.mark.asyncio
async def test_sections_and_past_visits_then_the_follow_up_day_lists_the_patient(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    patient = await _patient(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    follow_up = (clock.today() + timedelta(days=7)).isoformat()
    response = await post(client, f"/patients/{patient}/consultation",
                          {**SECTIONS, "follow_up": follow_up}, page=f"/patients/{patient}")
    assert (response.status, response.headers["Location"]) == (
        303, f"/patients/{patient}#visits")
    await clinic.add_diagnosis(patient, {"code": "I10", "label": "Essential hypertension"},
                               by="")
    page = await (await client.get(f"/patients/{patient}")).text()
    for shown in (*SECTIONS.values(), "Past visits", "I10", "Essential hypertension",
                  "Follow-up visit"):
        assert shown in page, shown
    assert f'type="date" min="{(clock.today() + timedelta(days=1)).isoformat()}"' in page

    assert "Expected back today" not in await (await client.get("/queue")).text()
    clock.advance(7 * DAY_S)
    await log_in(client, "Amina", ADMIN_PIN)  # a week later: a new session
    queue = await (await client.get("/queue")).text()
    assert "Expected back today (follow-up)" in queue and f'data-follow-up="{patient}"' in queue
    assert "Restart amlodipine" in queue
    response = await post(client, f"/patients/{patient}/check-in", {}, page="/queue")
    assert response.status == 303
    assert "Checked in" in await (await client.get("/queue/table")).text()


@pytest.mark.asyncio
@pytest.mark.parametrize(("form", "message"), [
    ({}, "Write at least one section of the consultation."),
    ({"plan": "Review", "follow_up": "2026-03-01"},
     "The follow-up day must be after today and within a year."),
])
async def test_a_bad_consultation_is_refused_with_its_message(
    client: TestClient, clinic: NodeClinicService, clock: Clock, form: dict[str, str],
    message: str,
) -> None:
    patient = await _patient(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    response = await post(client, f"/patients/{patient}/consultation", form,
                          page=f"/patients/{patient}")
    assert response.status == 400 and message in await response.text()
    assert (await clinic.get_chart(patient, by="")).of_kind("consultation") == []


@pytest.mark.asyncio
async def test_a_referral_letter_is_ready_to_print(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    patient = await _patient(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    await clinic.record_consultation(patient, SECTIONS, by="")
    await clinic.add_diagnosis(patient, {"code": "I10", "label": "Essential hypertension"},
                               by="")
    response = await post(client, f"/patients/{patient}/referrals", {
        "to": "Jaramogi Oginga Odinga Teaching and Referral Hospital",
        "reason": "Hypertensive urgency not controlled after two days"},
        page=f"/patients/{patient}")
    assert response.status == 303
    letter_path = response.headers["Location"]
    assert letter_path.startswith(f"/patients/{patient}/referrals/")
    letter = await (await client.get(letter_path)).text()
    for shown in ("Referral letter", "Jaramogi Oginga Odinga", "not controlled after two days",
                  "Baraka Otieno", SECTIONS["examination"], "I10", "Kibera Health Post",
                  "Print the letter", "No known allergies recorded"):
        assert shown in letter, shown
    chart_page = await (await client.get(f"/patients/{patient}")).text()
    assert f'href="{letter_path}"' in chart_page
    history = await (await client.get(f"/patients/{patient}/history")).text()
    assert "Referral" in history and "Consultation" in history
    missing = await client.get(f"/patients/{patient}/referrals/{patient}")
    assert missing.status == 404
    response = await post(client, f"/patients/{patient}/referrals", {"reason": "x"},
                          page=f"/patients/{patient}")
    assert response.status == 400
    assert "Please write where the patient is referred to." in await response.text()
