"""Every chart operation route, on both stores: a visit from encounter to dispensing."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Api

from crdt_model.adapter import Doc

VITALS = {"temperature_c": 38.4, "pulse_bpm": 96, "systolic_mmhg": 120, "diastolic_mmhg": 80}
PRESCRIPTION = {
    "drug": "Amoxicillin", "drug_id": "amox-250", "dose": 250, "dose_unit": "mg",
    "route": "oral", "frequency": "three times a day", "duration_days": 5, "quantity": 15,
}


async def _created(api: Api, path: str, body: dict[str, Any]) -> str:
    status, answer = await api.post(path, body)
    assert status == 201, answer
    return str(answer["id"])


@pytest.mark.asyncio
async def test_a_whole_visit_through_the_api(api: Api) -> None:
    pid = await api.register()
    base = f"/api/v1/patients/{pid}"
    encounter = await _created(api, f"{base}/encounters", {"chief_complaint": "fever"})
    await _created(api, f"{base}/allergies", {"substance": "Sulfa", "severity": "severe"})
    await _created(api, f"{base}/triage",
                   {"encounter_id": encounter, "category": "priority", "vitals": VITALS})
    note = await _created(api, f"{base}/notes", {"text": "Fever 3 days", "encounter_id": encounter})
    await _created(api, f"{base}/diagnoses", {"code": "B54", "label": "Malaria"})
    order = await _created(api, f"{base}/lab-orders", {"test": "Malaria RDT"})
    await _created(api, f"{base}/lab-results",
                   {"order_id": order, "value": "positive", "interpretation": "positive"})
    rx = await _created(api, f"{base}/prescriptions", PRESCRIPTION)
    other_rx = await _created(api, f"{base}/prescriptions", {**PRESCRIPTION, "quantity": 10})
    await _created(api, f"{base}/prescriptions/{other_rx}/cancel", {"reason": "duplicate order"})
    status, _ = await api.post("/api/v1/facility/drugs", {"drug_id": "amox-250", "name": "Amox"})
    assert status == 201
    await _created(api, "/api/v1/facility/stock/receive", {"drug_id": "amox-250", "quantity": 100})
    await _created(api, f"{base}/dispense",
                   {"prescription_id": rx, "drug_id": "amox-250", "quantity": 15})
    corrected = await _created(api, f"{base}/entries/{note}/correct",
                               {"text": "Fever 4 days", "encounter_id": encounter})
    await _created(api, f"{base}/entries/{corrected}/void", {"reason": "wrong patient"})
    status, answer = await api.post(f"{base}/demographics", {"village": "Kisumu"})
    assert status == 200, answer
    status, answer = await api.post(f"{base}/encounters/{encounter}/close")
    assert (status, answer) == (200, {"id": encounter})

    _, chart = await api.get(base)
    assert chart["demographics"]["village"] == "Kisumu"
    assert [a["substance"] for a in chart["allergies"]] == ["Sulfa"]
    assert [d["code"] for d in chart["diagnoses"]] == ["B54"]
    assert [r["value"] for r in chart["lab_results"]] == ["positive"]
    statuses = {p["id"]: p["prescription_status"] for p in chart["prescriptions"]}
    assert statuses == {rx: "dispensed", other_rx: "cancelled"}
    notes = {n["id"]: n["status"] for n in chart["notes"]}
    # Voiding the correction brings the original note back: it is superseded only by a live one.
    assert notes == {note: "live", corrected: "voided"}
    _, stock = await api.get("/api/v1/facility/stock")
    assert stock["stock"]["amox-250"]["level"] == 85
    _, drugs = await api.get("/api/v1/facility/drugs")
    assert drugs["drugs"]["amox-250"]["name"] == "Amox"


@pytest.mark.asyncio
async def test_link_duplicate_marks_the_chart_merged_into_the_survivor(api: Api) -> None:
    duplicate, survivor = await api.register(), await api.register(given_name="Aminah")
    status, _ = await api.post(f"/api/v1/patients/{duplicate}/link-duplicate",
                               {"survivor": survivor})
    assert status == 201
    _, chart = await api.get(f"/api/v1/patients/{duplicate}")
    assert chart["merged_into"] == f"chart:{survivor}"
    status, body = await api.post(f"/api/v1/patients/{duplicate}/link-duplicate",
                                  {"survivor": duplicate})
    assert status == 400 and body["field"] == "survivor"


@pytest.mark.asyncio
async def test_resolving_an_unknown_review_item_is_404(api: Api) -> None:
    pid = await api.register()
    status, body = await api.post(f"/api/v1/patients/{pid}/review/nothing/resolve",
                                  {"choice": "a"})
    assert (status, body["error"]) == (404, "not_found")


@pytest.mark.asyncio
async def test_closing_an_encounter_twice_is_a_conflict(api: Api) -> None:
    pid = await api.register()
    encounter = await _created(api, f"/api/v1/patients/{pid}/encounters", {})
    assert (await api.post(f"/api/v1/patients/{pid}/encounters/{encounter}/close"))[0] == 200
    status, body = await api.post(f"/api/v1/patients/{pid}/encounters/{encounter}/close")
    assert (status, body["error"]) == (409, "conflict")


@pytest.mark.asyncio
async def test_queue_enqueue_move_and_done(api: Api) -> None:
    pid = await api.register()
    entry = await _created(api, "/api/v1/queue", {"patient_id": pid})
    status, _ = await api.post(f"/api/v1/queue/{entry}/move", {"station": "consultation"})
    assert status == 200
    _, today = await api.get("/api/v1/queue")
    assert [(r["patient_id"], r["station"]) for r in today["rows"]] == [(pid, "consultation")]
    assert (await api.post(f"/api/v1/queue/{entry}/done"))[0] == 200
    _, today = await api.get("/api/v1/queue", day=today["day"])
    assert today["rows"][0]["station"] == "done"
    status, body = await api.post("/api/v1/queue",
                                  {"patient_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"})
    assert (status, body["field"]) == (404, "patient_id")
    status, body = await api.post("/api/v1/queue/nope/move", {"station": "moon"})
    assert (status, body["field"]) == (400, "station")


@pytest.mark.asyncio
async def test_docs_routes_give_heads_and_the_saved_document(api: Api) -> None:
    pid = await api.register()
    await api.post(f"/api/v1/patients/{pid}/notes", {"text": "hello"})
    status, heads = await api.get(f"/api/v1/docs/chart:{pid}/heads")
    assert status == 200
    async with api.client.get(f"/api/v1/docs/chart:{pid}/automerge",
                              headers={"Authorization": "Bearer " + _token()}) as response:
        assert response.status == 200
        assert response.content_type == "application/octet-stream"
        saved = await response.read()
    assert [h.hex() for h in Doc.load(saved).heads()] == heads["heads"]
    stored = await api.store.heads(f"chart:{pid}")
    assert [h.hex() for h in stored[f"chart:{pid}"]] == heads["heads"]
    exports = [r for r in await api.store.audit_events(f"chart:{pid}") if r.action == "export"]
    assert len(exports) == 1
    status, body = await api.get("/api/v1/docs/nonsense/heads")
    assert (status, body["field"]) == (400, "doc_id")
    status, body = await api.get("/api/v1/docs/chart:3fa85f64-5717-4562-b3fc-2c963f66afa6/heads")
    assert status == 404


def _token() -> str:
    from api_helpers import TOKEN

    return TOKEN
