"""Photos and documents through the JSON API: the file is the body, the chart lists a
reference, the bytes come back by their SHA-256, and a file over the limit is refused (413)."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from api_helpers import AUTH, DEVICE_ID, IDENTITY, PATIENT, Api

from crdt_model.adapter import actor_for
from crdt_model.attachments import MAX_ATTACHMENT_BYTES
from meshd.clinic import Caller, Clinic, genesis_for, project
from meshd.docs import Documents
from meshd.store.memory import MemoryStore

pytestmark = pytest.mark.asyncio(loop_scope="function")

TWO_MB = 2 * 1024 * 1024


async def _patient(api: Api) -> str:
    status, body = await api.post("/api/v1/patients", PATIENT)
    assert status == 201
    return str(body["id"])


async def _upload(api: Api, patient: str, data: bytes, content_type: str,
                  **query: str) -> tuple[int, dict[str, object]]:
    async with api.client.post(f"/api/v1/patients/{patient}/attachments", data=io.BytesIO(data),
                               params=query, headers={**AUTH, "Content-Type": content_type},
                               ) as response:
        return response.status, await response.json()


async def test_a_2_mb_scan_is_stored_listed_on_the_chart_and_served_back(api: Api) -> None:
    patient = await _patient(api)
    scan = os.urandom(TWO_MB)
    status, added = await _upload(api, patient, scan, "application/pdf", name="referral.pdf")
    assert status == 201
    assert added["sha256"] == hashlib.sha256(scan).hexdigest() and added["size"] == TWO_MB

    _, chart = await api.get(f"/api/v1/patients/{patient}")
    [listed] = chart["attachments"]
    assert listed["id"] == added["id"] and listed["sha256"] == added["sha256"]
    assert (listed["name"], listed["content_type"], listed["size"]) == (
        "referral.pdf", "application/pdf", TWO_MB)
    assert listed["purpose"] == "document" and listed["user"] == "api" and listed["at"] > 0

    async with api.client.get(f"/api/v1/attachments/{added['sha256']}", headers=AUTH) as got:
        assert got.status == 200
        assert got.headers["Content-Type"] == "application/pdf"
        assert "sandbox" in got.headers["Content-Security-Policy"]
        assert await got.read() == scan


async def test_the_same_photo_twice_is_stored_once_and_referenced_twice(api: Api) -> None:
    patient = await _patient(api)
    photo = os.urandom(3000)
    _, first = await _upload(api, patient, photo, "image/jpeg", name="face.jpg", purpose="photo")
    _, second = await _upload(api, patient, photo, "image/jpeg", name="face.jpg",
                              purpose="photo")
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    _, chart = await api.get(f"/api/v1/patients/{patient}")
    assert [a["purpose"] for a in chart["attachments"]] == ["photo", "photo"]


async def test_a_30_mb_file_is_refused_with_413_and_a_clear_message(memory_api: Api) -> None:
    patient = await _patient(memory_api)
    status, body = await _upload(memory_api, patient, bytes(30 * 1024 * 1024), "image/png",
                                 name="huge.png")
    assert status == 413
    assert body["error"] == "too_large" and body["field"] == "file"
    assert "30.0 MB" in str(body["message"]) and "20.0 MB" in str(body["message"])
    _, chart = await memory_api.get(f"/api/v1/patients/{patient}")
    assert chart["attachments"] == []


async def test_a_file_of_exactly_the_limit_is_taken(memory_api: Api) -> None:
    patient = await _patient(memory_api)
    status, added = await _upload(memory_api, patient, bytes(MAX_ATTACHMENT_BYTES),
                                  "application/octet-stream", name="full.bin")
    assert status == 201 and added["size"] == MAX_ATTACHMENT_BYTES


@pytest.mark.parametrize(("data", "content_type", "field"), [
    (b"", "image/png", "size"),
    (b"x", "not a type", "content_type"),
])
async def test_bad_uploads_are_refused_naming_the_field(
    memory_api: Api, data: bytes, content_type: str, field: str,
) -> None:
    patient = await _patient(memory_api)
    status, body = await _upload(memory_api, patient, data, content_type, name="f")
    assert status == 400 and body["field"] == field
    _, chart = await memory_api.get(f"/api/v1/patients/{patient}")
    assert chart["attachments"] == []


async def test_unknown_patient_and_unknown_blob_are_404(memory_api: Api) -> None:
    status, body = await _upload(memory_api, "3f2c8a4e-1b7d-4e5f-8a9b-0c1d2e3f4a5b", b"x",
                                 "image/png", name="f.png")
    assert status == 404
    assert await memory_api.store.blobs_held([hashlib.sha256(b"x").hexdigest()]) == set()
    status, body = await memory_api.get(f"/api/v1/attachments/{'ab' * 32}")
    assert status == 404 and body["error"] == "not_found"
    status, body = await memory_api.get("/api/v1/attachments/not-a-digest")
    assert status == 400 and body["field"] == "sha256"


async def test_a_voided_attachment_stays_listed_as_voided(memory_api: Api) -> None:
    patient = await _patient(memory_api)
    _, added = await _upload(memory_api, patient, b"%PDF-1.4 wrong patient", "application/pdf",
                             name="wrong.pdf")
    status, _ = await memory_api.post(f"/api/v1/patients/{patient}/entries/{added['id']}/void",
                                      {"reason": "scanned for the wrong patient"})
    assert status in (200, 201)
    _, chart = await memory_api.get(f"/api/v1/patients/{patient}")
    assert [a["status"] for a in chart["attachments"]] == ["voided"]
    assert await memory_api.clinic.missing_attachments() == []


async def test_a_blob_missing_here_is_fetched_on_demand_then_served() -> None:
    photo = os.urandom(5000)
    sha = hashlib.sha256(photo).hexdigest()
    asked: list[str] = []
    async with MemoryStore() as store:

        async def from_the_mesh(wanted: str) -> bool:
            asked.append(wanted)
            await store.put_blob(wanted, photo, "image/jpeg")  # as the blob sync would
            return True

        docs = Documents(store, actor_for(DEVICE_ID, "system"), genesis=genesis_for(DEVICE_ID),
                         project=project)
        clinic = Clinic(docs, store, IDENTITY, fetch_blob=from_the_mesh)
        caller = Caller("api", "test")
        assert await clinic.attachment(sha, caller) == (photo, "image/jpeg")
        assert await clinic.attachment(sha, caller) == (photo, "image/jpeg")
        assert asked == [sha], "fetched once, then served from the store"
