"""Bad requests get a JSON 4xx naming the fault, change nothing, and never crash the server."""

from __future__ import annotations

import json
import random

import pytest
from api_helpers import AUTH, MAX_BODY_BYTES, PATIENT, Api

UNKNOWN_PATIENT = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.mark.asyncio
@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
    {"Authorization": "Bearer"}, {"Authorization": ""},
], ids=["missing", "wrong", "basic", "empty-bearer", "blank"])
async def test_missing_or_wrong_token_is_401_and_changes_nothing(api: Api, headers: dict[str, str],
                                                                 ) -> None:
    status, body = await api.post("/api/v1/patients", PATIENT, headers=headers)
    assert (status, body["error"]) == (401, "unauthorized")
    async with api.client.get("/api/v1/patients", headers=headers) as response:
        assert response.status == 401
    assert await api.all_heads() == {}
    assert await api.store.audit_events() == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("raw", "field"), [
    (b"{not json", "body"), (b"", "body"), (b"[1, 2]", "body"), (b'"text"', "body"),
    (b"\xff\xfe\x00", "body"), (b"[" * 60_000, "body"), (b'{"text": NaN}', "body"),
])
async def test_malformed_json_is_400_naming_the_body(api: Api, raw: bytes, field: str) -> None:
    pid = await api.register()
    before = await api.all_heads()
    for path in ("/api/v1/patients", f"/api/v1/patients/{pid}/notes", "/api/v1/queue"):
        status, body = await api.post(path, raw=raw)
        assert (status, body["error"], body["field"]) == (400, "invalid", field), path
    assert await api.all_heads() == before


@pytest.mark.asyncio
@pytest.mark.parametrize(("change", "field"), [
    ({"given_name": 42}, "given_name"),
    ({"sex": "robot"}, "sex"),
    ({"birth_date": "1990-13-45"}, "birth_date"),
    ({"famly_name": "Typo"}, "famly_name"),
    ({"phone": ["+254"]}, "phone"),
])
async def test_wrong_types_and_unknown_keys_name_the_field(api: Api, change: dict[str, object],
                                                           field: str) -> None:
    status, body = await api.post("/api/v1/patients", {**PATIENT, **change})
    assert (status, body["error"], body.get("field")) == (400, "invalid", field), body
    assert isinstance(body["message"], str) and body["message"]
    assert await api.all_heads() == {}


@pytest.mark.asyncio
async def test_a_rejected_chart_operation_leaves_the_chart_as_it_was(api: Api) -> None:
    pid = await api.register()
    base = f"/api/v1/patients/{pid}"
    before = await api.all_heads()
    cases = [
        (f"{base}/triage", {"category": "priority", "vitals": {"pulse_bpm": 900}}),
        (f"{base}/notes", {"text": "ok", "colour": "blue"}),
        (f"{base}/diagnoses", {"code": "malaria", "label": "Malaria"}),
        (f"{base}/entries/no-such-entry/void", {"reason": "typo"}),
        (f"{base}/dispense", {"prescription_id": "nope", "drug_id": "amox", "quantity": 1}),
        (f"{base}/demographics", {"given_name": None}),
        (f"{base}/prescriptions/nope/cancel", {"reason": "x", "extra": 1}),
    ]
    for path, payload in cases:
        status, body = await api.post(path, payload)
        assert 400 <= status < 500, (path, body)
        assert set(body) <= {"error", "message", "field", "errors"}
    assert await api.all_heads() == before
    _, chart = await api.get(base)
    assert chart["notes"] == [] and chart["triage"] == [] and chart["dispensations"] == []


@pytest.mark.asyncio
async def test_operations_on_an_unknown_patient_are_404(api: Api) -> None:
    for path, payload in [
        ("notes", {"text": "hello"}), ("allergies", {"substance": "x"}),
        ("dispense", {"prescription_id": "p", "drug_id": "d", "quantity": 1}),
    ]:
        status, body = await api.post(f"/api/v1/patients/{UNKNOWN_PATIENT}/{path}", payload)
        assert (status, body["error"]) == (404, "not_found"), path
    assert [d for d in await api.all_heads() if d.startswith("chart:")] == []


@pytest.mark.asyncio
async def test_an_oversized_body_is_413_and_changes_nothing(api: Api) -> None:
    pid = await api.register()
    before = await api.all_heads()
    huge = json.dumps({"text": "x" * (MAX_BODY_BYTES + 1)}).encode()
    status, body = await api.post(f"/api/v1/patients/{pid}/notes", raw=huge)
    assert (status, body["error"]) == (413, "too_large")
    assert await api.all_heads() == before


@pytest.mark.asyncio
async def test_unknown_route_and_wrong_method_answer_json(api: Api) -> None:
    async with api.client.get("/api/v1/nothing-here", headers=AUTH) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"
    async with api.client.delete("/api/v1/patients", headers=AUTH) as response:
        assert response.status == 405
        assert (await response.json())["error"] == "method_not_allowed"


@pytest.mark.asyncio
async def test_garbage_never_crashes_the_server(memory_api: Api) -> None:
    api = memory_api
    pid = await api.register()
    rng = random.Random(7)
    paths = [
        "/api/v1/patients", f"/api/v1/patients/{pid}/notes", f"/api/v1/patients/{pid}/triage",
        f"/api/v1/patients/{pid}/dispense", f"/api/v1/patients/{pid}/entries/x/correct",
        f"/api/v1/patients/{pid}/demographics", "/api/v1/queue", "/api/v1/facility/drugs",
        "/api/v1/facility/stock/adjust", f"/api/v1/patients/{pid}/link-duplicate",
        "/api/v1/facility/stock/amoxicillin-250/count",
    ]
    values: list[object] = [None, True, -1, 2**70, 1e308, "", "x" * 5000, [], {}, {"a": [{}]},
                            "2024-02-30", "\u0000", "chart:evil", float("nan")]
    keys = ["text", "given_name", "vitals", "quantity", "drug_id", "prescription_id", "station",
            "patient_id", "survivor", "code", "reason", "encounter_id", "sex", "counts"]
    for _ in range(150):
        path = rng.choice(paths)
        if rng.random() < 0.3:
            status, body = await api.post(path, raw=rng.randbytes(rng.randint(0, 300)))
        else:
            payload = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 4))}
            try:
                raw = json.dumps(payload).encode()
            except ValueError:
                continue
            status, body = await api.post(path, raw=raw)
        assert status < 500, (path, body)
    for weird in ("/api/v1/patients/%00", "/api/v1/docs/%2e%2e/heads", "/api/v1/docs/chart:/x"):
        async with api.client.get(weird, headers=AUTH) as response:
            assert response.status < 500
    async with api.client.get("/api/v1/health") as response:
        assert response.status == 200
