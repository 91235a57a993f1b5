"""Batches through the JSON API: stock received with batch numbers and expiry days, dispensed
first-expiry-first-out (never from an expired batch), and the drug's stock card listing its
batches (expired and near-expiry flagged) and every movement with the level after it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from api_helpers import PATIENT, Api

pytestmark = pytest.mark.asyncio(loop_scope="function")

RECEIVE = "/api/v1/facility/stock/receive"
DRUG = "amox-250"
PRESCRIPTION = {"drug": "Amoxicillin 250 mg capsule", "drug_id": DRUG, "dose": 1,
                "dose_unit": "capsule", "route": "oral", "frequency": "3x/day",
                "duration_days": 5, "quantity": 15}


def _day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


async def _created(api: Api, path: str, body: dict[str, object]) -> str:
    status, answer = await api.post(path, body)
    assert status == 201, answer
    return str(answer["id"])


async def _two_batches(api: Api) -> None:
    """The drug with 100 of batch LATE-7 (400 days left) and 10 of SOON-3 (30)."""
    await _created(api, "/api/v1/facility/drugs", {"drug_id": DRUG, "name": "Amoxicillin 250"})
    await _created(api, RECEIVE, {"drug_id": DRUG, "quantity": 100, "batch": "LATE-7",
                                  "expires": _day(400)})
    await _created(api, RECEIVE, {"drug_id": DRUG, "quantity": 10, "batch": "SOON-3",
                                  "expires": _day(30)})


async def test_dispensing_takes_the_soonest_expiry_first_and_skips_expired(api: Api) -> None:
    await _two_batches(api)
    await _created(api, RECEIVE, {"drug_id": DRUG, "quantity": 20, "batch": "GONE-1",
                                  "expires": _day(-2)})
    patient = await _created(api, "/api/v1/patients", PATIENT)
    rx = await _created(api, f"/api/v1/patients/{patient}/prescriptions", PRESCRIPTION)
    await _created(api, f"/api/v1/patients/{patient}/dispense",
                   {"prescription_id": rx, "drug_id": DRUG, "quantity": 15})

    status, card = await api.get(f"/api/v1/facility/stock/{DRUG}")
    assert status == 200 and card["level"] == 115
    assert [(b["batch"], b["level"], b["expired"], b["near_expiry"]) for b in card["batches"]] == [
        ("GONE-1", 20, True, True), ("SOON-3", 0, False, False), ("LATE-7", 95, False, False)]
    last = card["movements"][-1]
    assert (last["kind"], last["quantity"], last["level"]) == ("dispense", -15, 115)
    assert last["batches"] == [["SOON-3", -10], ["LATE-7", -5]]
    assert last["ref"].startswith(f"chart:{patient}/") and last["user_name"] == "api"
    assert [m["kind"] for m in card["movements"]].count("receive") == 3


async def test_a_count_names_its_batch_and_a_bad_expiry_is_refused(memory_api: Api) -> None:
    await _created(memory_api, "/api/v1/facility/drugs", {"drug_id": DRUG, "name": "Amox"})
    await _created(memory_api, RECEIVE,
                   {"drug_id": DRUG, "quantity": 30, "batch": "B1", "expires": _day(60)})
    await _created(memory_api, "/api/v1/facility/stock/adjust",
                   {"drug_id": DRUG, "quantity": -2, "reason": "broken blister", "batch": "B1"})
    _, card = await memory_api.get(f"/api/v1/facility/stock/{DRUG}")
    assert [(b["batch"], b["level"], b["near_expiry"]) for b in card["batches"]] == [
        ("B1", 28, True)]
    status, body = await memory_api.post(RECEIVE,
                                         {"drug_id": DRUG, "quantity": 5, "expires": "31/12/27"})
    assert status == 400 and body["field"] == "expires"
    status, body = await memory_api.get("/api/v1/facility/stock/no-such-drug")
    assert status == 404 and body["field"] == "drug_id"


async def test_a_shelf_count_per_batch_adjusts_the_batches_that_differ(api: Api) -> None:
    await _two_batches(api)
    count = f"/api/v1/facility/stock/{DRUG}/count"
    status, answer = await api.post(count, {"counts": {"LATE-7": -2, "NONE": 1}, "reason": ""})
    assert status == 400, answer
    status, answer = await api.post(count, {"counts": {"LATE-7": 100, "SOON-3": 8},
                                            "reason": "monthly count"})
    assert status == 201 and len(answer["adjusted"]) == 1
    status, card = await api.get(f"/api/v1/facility/stock/{DRUG}")
    assert card["level"] == 108
    assert {b["batch"]: b["level"] for b in card["batches"]} == {"SOON-3": 8, "LATE-7": 100}
    last = card["movements"][-1]
    assert (last["kind"], last["quantity"], last["batches"], last["ref"]) == (
        "adjust", -2, [["SOON-3", -2]], "monthly count")
    status, _ = await api.post("/api/v1/facility/stock/no-such/count",
                               {"counts": {"": 1}, "reason": "count"})
    assert status == 404
