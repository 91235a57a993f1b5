"""The consultation through the JSON API: structured sections in today's visit, the past
visits with their diagnoses and medicines, a follow-up day listed on that day, a correction
that moves it, and a referral."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from api_helpers import PATIENT, Api

pytestmark = pytest.mark.asyncio(loop_scope="function")

SECTIONS = {
    "presenting_complaint": "Cough for two weeks, night sweats",
    "history": "Weight loss of 4 kg since March; a brother treated for TB last year",
    "examination": "Thin, crackles at the right apex, no clubbing",
    "plan": "Sputum GeneXpert; review with the result",
}
PRESCRIPTION = {"drug": "Paracetamol 500 mg tablet", "dose": 1, "dose_unit": "tablet",
                "route": "oral", "frequency": "3x/day", "duration_days": 3, "quantity": 9}


def _day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


async def _created(api: Api, path: str, body: dict[str, object]) -> str:
    status, answer = await api.post(path, body)
    assert status == 201, answer
    return str(answer["id"])


async def test_sections_join_todays_visit_with_its_diagnoses_and_medicines(api: Api) -> None:
    patient = await _created(api, "/api/v1/patients", PATIENT)
    base = f"/api/v1/patients/{patient}"
    consult = await _created(api, f"{base}/consultations", {**SECTIONS, "follow_up": _day(7)})
    await _created(api, f"{base}/diagnoses", {"code": "A15.0", "label": "Tuberculosis of lung"})
    await _created(api, f"{base}/prescriptions", PRESCRIPTION)
    _, chart = await api.get(base)
    [visit] = chart["encounters"]
    [written] = visit["consultations"]
    assert written["id"] == consult and written["follow_up"] == _day(7)
    assert {k: written[k] for k in SECTIONS} == SECTIONS
    assert [d["code"] for d in visit["diagnoses"]] == ["A15.0"]
    assert [p["drug"] for p in visit["prescriptions"]] == [PRESCRIPTION["drug"]]

    status, listed = await api.get("/api/v1/follow-ups", day=_day(7))
    assert status == 200
    [expected] = listed["follow_ups"]
    assert (expected["patient_id"], expected["consultation_id"]) == (patient, consult)
    assert expected["family_name"] == PATIENT["family_name"] and expected["number"]
    assert (await api.get("/api/v1/follow-ups", day=_day(8)))[1]["follow_ups"] == []


async def test_a_corrected_follow_up_day_moves_the_patient_to_that_day(api: Api) -> None:
    patient = await _created(api, "/api/v1/patients", PATIENT)
    base = f"/api/v1/patients/{patient}"
    consult = await _created(api, f"{base}/consultations",
                             {"plan": "Review the blood pressure", "follow_up": _day(14)})
    await _created(api, f"{base}/entries/{consult}/correct",
                   {"plan": "Review the blood pressure sooner", "follow_up": _day(3)})
    assert (await api.get("/api/v1/follow-ups", day=_day(14)))[1]["follow_ups"] == []
    [moved] = (await api.get("/api/v1/follow-ups", day=_day(3)))[1]["follow_ups"]
    assert moved["plan"] == "Review the blood pressure sooner"


@pytest.mark.parametrize(("body", "fields"), [
    ({}, ["presenting_complaint"]),
    ({"plan": "x", "follow_up": "2020-01-01"}, ["follow_up"]),
    ({"plan": "x" * 4001, "follow_up": "31/12/2030"}, ["plan", "follow_up"]),
    ({"plan": "x", "diagnosis": "malaria"}, ["diagnosis"]),
])
async def test_a_bad_consultation_names_every_wrong_field(
    memory_api: Api, body: dict[str, object], fields: list[str],
) -> None:
    patient = await _created(memory_api, "/api/v1/patients", PATIENT)
    status, answer = await memory_api.post(f"/api/v1/patients/{patient}/consultations", body)
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == fields
    _, chart = await memory_api.get(f"/api/v1/patients/{patient}")
    assert chart["consultations"] == [] and chart["encounters"] == []


async def test_a_referral_is_recorded_in_the_visit(memory_api: Api) -> None:
    patient = await _created(memory_api, "/api/v1/patients", PATIENT)
    base = f"/api/v1/patients/{patient}"
    referral = await _created(memory_api, f"{base}/referrals", {
        "to": "Kisumu County Referral Hospital, chest clinic",
        "reason": "Suspected drug-resistant TB: needs culture and a specialist review"})
    _, chart = await memory_api.get(base)
    [listed] = chart["referrals"]
    assert listed["id"] == referral and listed["to"].startswith("Kisumu County")
    assert chart["encounters"][0]["referrals"][0]["id"] == referral
    status, answer = await memory_api.post(f"{base}/referrals", {"reason": "no destination"})
    assert status == 400 and answer["field"] == "to"
