"""A photo taken on the registration form itself: stored as the new chart's photo attachment
and shown on the chart header and the card; a file that is not an image, or one over the
limit, is a form error and registers nothing."""

from __future__ import annotations

import hashlib
import io

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from test_ui_attachments import PNG
from ui_helpers import add_user, csrf_of, log_in, set_up

from meshd.clinic_ui.service import NodeClinicService

FIELDS = {"given_name": "Neema", "family_name": "Mwangi", "sex": "female", "age_years": "34",
          "village": "Kisumu Ndogo"}


async def _register(client: TestClient, photo: bytes | None, name: str = "face.png",
                    content_type: str = "image/png", **changes: str):  # type: ignore[no-untyped-def]
    form = FormData()
    form.add_field("csrf", await csrf_of(client, "/patients/new"))  # first, as the page sends it
    for key, value in {**FIELDS, **changes}.items():
        form.add_field(key, value)
    form.add_field("photo", io.BytesIO(photo or b""), filename=name if photo else "",
                   content_type=content_type if photo else "application/octet-stream")
    return await client.post("/patients/new", data=form, allow_redirects=False)


async def _desk(client: TestClient, clinic: NodeClinicService) -> None:
    await set_up(clinic)
    await add_user(clinic, "Rehema", "registration")
    await log_in(client, "Rehema")


@pytest.mark.asyncio
async def test_a_photo_taken_on_the_registration_form_is_the_new_charts_photo(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await _desk(client, clinic)
    form = await (await client.get("/patients/new")).text()
    assert 'enctype="multipart/form-data"' in form
    assert 'name="photo" type="file" accept="image/*" capture="environment"' in form
    response = await _register(client, PNG)
    assert response.status == 303, await response.text()
    patient = response.headers["Location"].split("/")[2]
    chart = await clinic.get_chart(patient, by="")
    [photo] = chart.of_kind("attachment")
    sha = hashlib.sha256(PNG).hexdigest()
    assert (photo.data["purpose"], photo.data["sha256"], photo.data["content_type"]) == (
        "photo", sha, "image/png")
    assert chart.patient.village == "Kisumu Ndogo"
    card = await (await client.get(response.headers["Location"])).text()
    assert f'class="card-photo" src="/attachments/{sha}"' in card
    served = await client.get(f"/attachments/{sha}")
    assert served.status == 200 and await served.read() == PNG
    await add_user(clinic, "Daktari", "clinician")
    await client.get("/logout")
    await log_in(client, "Daktari")
    page = await (await client.get(f"/patients/{patient}")).text()
    assert f'class="patient-photo" src="/attachments/{sha}"' in page


@pytest.mark.asyncio
async def test_without_a_photo_the_form_registers_as_before(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await _desk(client, clinic)
    response = await _register(client, None)
    assert response.status == 303
    patient = response.headers["Location"].split("/")[2]
    assert (await clinic.get_chart(patient, by="")).of_kind("attachment") == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("data", "name", "content_type", "message"), [
    (b"%PDF-1.4 a scan", "face.jpg", "image/jpeg", "This file is not a photo"),
    (b"<svg onload=alert(1)>", "face.svg", "image/svg+xml", "This file is not a photo"),
    (b"\xff\xd8\xff" + bytes(21 * 1024 * 1024), "huge.jpg", "image/jpeg",
     "The file is 21.0 MB; the largest a chart takes is 20.0 MB."),
])
async def test_a_file_that_is_not_a_photo_or_too_big_is_a_form_error_and_registers_nothing(
    client: TestClient, clinic: NodeClinicService, data: bytes, name: str, content_type: str,
    message: str,
) -> None:
    await _desk(client, clinic)
    response = await _register(client, data, name, content_type, age_years="abc")
    page = await response.text()
    assert response.status == 400
    assert 'id="e-photo"' in page and message in page
    assert 'id="e-age_years"' in page  # every problem of the form at once
    assert 'value="Kisumu Ndogo"' in page  # what was typed stays
    response = await _register(client, data, name, content_type)
    assert response.status == 400 and message in await response.text()
    assert await clinic.search_patients("Mwangi") == []
