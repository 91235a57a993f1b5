"""The clinic core's rules as the API meets them: allergy checks, the workflow's next step, and
who may do what (the same rules the UI meets; see tests/ui_service/test_same_act.py)."""

from __future__ import annotations

import pytest
from api_helpers import Api

from crdt_model.errors import Forbidden
from meshd.clinic import Caller

PENICILLIN_V = {
    "drug": "Penicillin V", "dose": 250, "dose_unit": "mg", "route": "oral",
    "frequency": "four times a day", "duration_days": 5,
}


@pytest.mark.asyncio
async def test_a_prescription_clashing_with_an_allergy_needs_an_override_reason(
    memory_api: Api,
) -> None:
    pid = await memory_api.register()
    base = f"/api/v1/patients/{pid}"
    await memory_api.post(f"{base}/allergies", {"substance": "Penicillin", "severity": "severe"})
    heads = await memory_api.all_heads()
    status, body = await memory_api.post(f"{base}/prescriptions", PENICILLIN_V)
    assert (status, body["error"], body["field"]) == (409, "allergy_conflict", "drug")
    assert await memory_api.all_heads() == heads, "a refused prescription changes nothing"
    status, body = await memory_api.post(
        f"{base}/prescriptions", {**PENICILLIN_V, "override_reason": "tolerated it last year"}
    )
    assert status == 201, body
    _, chart = await memory_api.get(base)
    assert chart["prescriptions"][0]["override_reason"] == "tolerated it last year"


@pytest.mark.asyncio
async def test_a_lab_result_sends_a_patient_waiting_at_the_lab_back_to_consultation(
    memory_api: Api,
) -> None:
    pid = await memory_api.register()
    base = f"/api/v1/patients/{pid}"
    status, order = await memory_api.post(f"{base}/lab-orders", {"test": "Malaria RDT"})
    assert status == 201, order  # no encounter given: it joins today's visit (checked in)
    _, queue = await memory_api.get("/api/v1/queue")
    [row] = queue["rows"]
    await memory_api.post(f"/api/v1/queue/{row['entry_id']}/move", {"station": "lab"})
    await memory_api.post(f"{base}/lab-results", {"order_id": order["id"], "value": "negative"})
    _, queue = await memory_api.get("/api/v1/queue")
    assert [r["station"] for r in queue["rows"]] == ["consultation"]


@pytest.mark.asyncio
async def test_a_user_of_the_directory_is_held_to_their_roles(memory_api: Api) -> None:
    clinic = memory_api.clinic
    pid = await memory_api.register()
    admin = await clinic.set_up_facility("Test Clinic", {"name": "Amina", "pin_hash": "x"}, "ui")
    nurse = await clinic.add_user({"name": "Zawadi", "roles": ["nurse"], "pin_hash": "x"},
                                  Caller(admin, "ui"))
    as_nurse = Caller(nurse, "ui")
    await clinic.add_allergy(pid, {"substance": "Sulfa"}, as_nurse)
    with pytest.raises(Forbidden):
        await clinic.prescribe(pid, PENICILLIN_V, as_nurse)
    with pytest.raises(Forbidden):
        await clinic.add_user({"name": "Other", "roles": ["admin"], "pin_hash": "x"}, as_nurse)
    await clinic.set_user_language(nurse, "sw", as_nurse)  # their own settings: always
    status, _ = await memory_api.post(f"/api/v1/patients/{pid}/prescriptions", PENICILLIN_V)
    assert status == 201, "the API's token acts for the device"
