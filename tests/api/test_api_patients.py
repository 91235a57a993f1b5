"""Health, registration, search and chart reads, on both stores; every chart access is audited."""

from __future__ import annotations

import pytest
from api_helpers import DEVICE_ID, PATIENT, Api


@pytest.mark.asyncio
async def test_health_answers_without_a_token(api: Api) -> None:
    async with api.client.get("/api/v1/health") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "device": DEVICE_ID, "name": "desk-1"}


@pytest.mark.asyncio
async def test_registered_patient_is_read_back_and_found(api: Api) -> None:
    patient_id = await api.register(village="Kisumu", phone="+254700000001")
    status, chart = await api.get(f"/api/v1/patients/{patient_id}")
    assert status == 200
    assert chart["id"] == patient_id
    assert chart["demographics"]["given_name"] == "Amina"
    assert chart["demographics"]["village"] == "Kisumu"
    status, found = await api.get("/api/v1/patients", q="amina")
    assert status == 200
    assert [row["id"] for row in found["results"]] == [patient_id]
    assert found["results"][0]["family_name"] == "Bello"
    status, none = await api.get("/api/v1/patients", q="zzzz")
    assert (status, none) == (200, {"results": []})


@pytest.mark.asyncio
async def test_estimated_age_registers_an_estimated_birth_date(api: Api) -> None:
    patient = {k: v for k, v in PATIENT.items() if k != "birth_date"}
    status, body = await api.post("/api/v1/patients", {**patient, "estimated_age_years": 30})
    assert status == 201
    _, chart = await api.get(f"/api/v1/patients/{body['id']}")
    assert chart["demographics"]["birth_date_estimated"] is True


@pytest.mark.asyncio
async def test_reads_and_writes_of_a_chart_are_audited_with_who_and_where(api: Api) -> None:
    patient_id = await api.register()
    await api.get(f"/api/v1/patients/{patient_id}")
    await api.post(f"/api/v1/patients/{patient_id}/notes", {"text": "Feels better"})
    await api.get("/api/v1/patients", q="bello")
    rows = await api.store.audit_events(f"chart:{patient_id}")
    actions = sorted(row.action for row in rows)
    assert actions == ["note", "read", "register"]
    assert {row.user for row in rows} == {"api"}
    assert {row.origin for row in rows} == {"127.0.0.1"}
    assert all(row.at_ms > 0 for row in rows)
    searches = [row for row in await api.store.audit_events() if row.action == "search"]
    assert searches and searches[0].detail == "bello"


@pytest.mark.asyncio
async def test_unknown_patient_is_404_and_a_bad_id_is_400(api: Api) -> None:
    status, body = await api.get("/api/v1/patients/3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert status == 404
    assert body["error"] == "not_found"
    status, body = await api.get("/api/v1/patients/not-a-uuid")
    assert (status, body["error"], body["field"]) == (400, "invalid", "id")


@pytest.mark.asyncio
async def test_a_chart_survives_the_document_cache_being_cleared(api: Api) -> None:
    patient_id = await api.register()
    await api.post(f"/api/v1/patients/{patient_id}/allergies", {"substance": "Penicillin"})
    api.clinic.docs._cache.clear()  # as after an eviction: the next read loads from the store
    _, chart = await api.get(f"/api/v1/patients/{patient_id}")
    assert [a["substance"] for a in chart["allergies"]] == ["Penicillin"]


@pytest.mark.asyncio
async def test_the_short_patient_number_is_in_the_chart_and_finds_the_patient(api: Api) -> None:
    first, second = await api.register(), await api.register()
    _, chart = await api.get(f"/api/v1/patients/{second}")
    number = chart["number"]
    assert number and number.split("-")[1] == "0002"
    status, found = await api.get("/api/v1/patients", q=number)
    assert status == 200
    assert found["results"][0]["id"] == second and found["results"][0]["number"] == number
    _, chart = await api.get(f"/api/v1/patients/{first}")
    assert chart["number"] != number
