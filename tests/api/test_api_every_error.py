"""Bad input is reported whole (issue 13, defect 7): every wrong field of a request at once,
each saying what is wrong (missing, too long, out of range), and nothing is stored."""

from __future__ import annotations

import pytest
from api_helpers import Api


@pytest.mark.asyncio
async def test_an_empty_registration_names_every_missing_field(memory_api: Api) -> None:
    heads = await memory_api.all_heads()
    status, body = await memory_api.post("/api/v1/patients", {"phone": "12"})
    assert (status, body["error"]) == (400, "invalid")
    problems = {e["field"]: e["problem"] for e in body["errors"]}
    assert problems == {"given_name": "missing", "family_name": "missing", "sex": "missing",
                        "birth_date": "missing", "phone": "invalid"}
    assert await memory_api.all_heads() == heads


@pytest.mark.asyncio
async def test_a_name_too_long_is_called_too_long(memory_api: Api) -> None:
    status, body = await memory_api.post("/api/v1/patients", {
        "given_name": "A" * 5000, "family_name": "Bello", "sex": "female",
        "birth_date": "1990-02-03"})
    assert status == 400
    [problem] = body["errors"]
    assert problem["field"] == "given_name" and problem["problem"] == "too_long"
    assert problem["limits"] == [100]


@pytest.mark.asyncio
async def test_a_triage_names_every_vital_out_of_range(memory_api: Api) -> None:
    pid = await memory_api.register()
    status, body = await memory_api.post(f"/api/v1/patients/{pid}/triage", {
        "category": "queue", "vitals": {"temperature_c": 90, "weight_kg": -5, "pulse_bpm": 80}})
    assert status == 400, body
    problems = {e["field"]: (e["problem"], e["limits"]) for e in body["errors"]}
    assert problems == {"vitals.temperature_c": ("out_of_range", [30.0, 45.0]),
                        "vitals.weight_kg": ("out_of_range", [0.3, 300.0])}
