"""Photos and documents in the UI: an upload form (multipart, the CSRF token first) adds a
document to the chart and a photo to the header and the card; a file over the limit is refused
with 413 and a message saying both sizes; the bytes are served to users who may see them."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from ui_helpers import ADMIN_PIN, Clock, add_user, csrf_of, log_in, set_up

from meshd.clinic_ui.service import NodeClinicService

PATIENT = {"given_name": "Neema", "family_name": "Mwangi", "sex": "female",
           "birth_date": "1987-06-12"}
# The smallest valid PNG: a 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


async def _registered(clinic: NodeClinicService, clock: Clock) -> str:
    await set_up(clinic)
    return await clinic.register_patient(PATIENT, clock.today().isoformat(), by="")


async def _upload(client: TestClient, patient: str, data: bytes, name: str, content_type: str,
                  purpose: str = "document", token: str | None = None):  # type: ignore[no-untyped-def]
    form = FormData()
    form.add_field("csrf", token or await csrf_of(client, f"/patients/{patient}"))
    form.add_field("purpose", purpose)
    form.add_field("back", f"/patients/{patient}/card" if purpose == "photo" else
                   f"/patients/{patient}#attachments")
    form.add_field("file", io.BytesIO(data), filename=name, content_type=content_type)
    return await client.post(f"/patients/{patient}/attachments", data=form,
                             allow_redirects=False)


@pytest.mark.asyncio
async def test_a_document_and_a_photo_are_added_shown_and_served(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    patient = await _registered(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    scan = b"%PDF-1.4 " + os.urandom(5000)
    response = await _upload(client, patient, scan, "C:\\fakepath\\referral.pdf",
                             "application/pdf")
    assert response.status == 303, await response.text()
    response = await _upload(client, patient, PNG, "face.png", "image/png", purpose="photo")
    assert (response.status, response.headers["Location"]) == (303, f"/patients/{patient}/card")

    page = await (await client.get(f"/patients/{patient}")).text()
    assert "Photos and documents" in page and "referral.pdf" in page
    scan_sha, photo_sha = hashlib.sha256(scan).hexdigest(), hashlib.sha256(PNG).hexdigest()
    assert f'class="patient-photo" src="/attachments/{photo_sha}"' in page
    assert 'accept="image/*" capture="environment"' in page
    card = await (await client.get(f"/patients/{patient}/card")).text()
    assert f'class="card-photo" src="/attachments/{photo_sha}"' in card

    served = await client.get(f"/attachments/{scan_sha}")
    assert served.status == 200 and served.headers["Content-Type"] == "application/pdf"
    assert await served.read() == scan
    history = await (await client.get(f"/patients/{patient}/history")).text()
    assert "Photo or document added" in history and "referral.pdf" in history


@pytest.mark.asyncio
async def test_an_html_file_is_downloaded_never_shown_as_a_page(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    patient = await _registered(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    page = b"<script>alert(document.cookie)</script>"
    response = await _upload(client, patient, page, "result.html", "text/html")
    assert response.status == 303
    served = await client.get(f"/attachments/{hashlib.sha256(page).hexdigest()}")
    assert served.headers["Content-Disposition"] == "attachment"
    assert "script-src 'self'" in served.headers["Content-Security-Policy"]


@pytest.mark.asyncio
async def test_a_file_over_the_limit_is_refused_with_413_and_both_sizes(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    patient = await _registered(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    response = await _upload(client, patient, bytes(30 * 1024 * 1024), "xray.png", "image/png")
    assert response.status == 413
    page = await response.text()
    assert "The file is 30.0 MB; the largest a chart takes is 20.0 MB." in page
    assert (await clinic.get_chart(patient, by="")).of_kind("attachment") == []


@pytest.mark.asyncio
async def test_an_upload_without_the_form_token_is_refused(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    patient = await _registered(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    response = await _upload(client, patient, PNG, "face.png", "image/png", token="forged")
    assert response.status == 403
    assert (await clinic.get_chart(patient, by="")).of_kind("attachment") == []


@pytest.mark.asyncio
async def test_the_desk_adds_a_photo_at_registration_but_the_pharmacy_may_not(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    patient = await _registered(clinic, clock)
    await add_user(clinic, "Desk", "registration")
    await add_user(clinic, "Pharma", "pharmacy")
    await log_in(client, "Desk")
    card = await (await client.get(f"/patients/{patient}/card?new=1")).text()
    assert 'accept="image/*" capture="environment"' in card
    token = await csrf_of(client, f"/patients/{patient}/card")
    response = await _upload(client, patient, PNG, "face.png", "image/png", purpose="photo",
                             token=token)
    assert response.status == 303
    await client.get("/logout")
    await log_in(client, "Pharma")
    response = await _upload(client, patient, PNG, "other.png", "image/png",
                             token=await csrf_of(client, "/pharmacy"))
    assert response.status == 403
    assert len((await clinic.get_chart(patient, by="")).of_kind("attachment")) == 1
