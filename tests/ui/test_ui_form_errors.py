"""Forms say everything that is wrong at once, and what is wrong (issue 13, defect 7): an empty
registration flags every required field, a 5,000-character name is "too long", a triage flags
every vital out of range; values are kept; an abnormal but possible vital is a warning."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from test_ui_forms import error_next_to, patient  # noqa: F401 (fixture)
from ui_helpers import add_user, log_in, post, set_up

from meshd.clinic_ui.service import NodeClinicService


@pytest.mark.asyncio
async def test_an_empty_registration_flags_every_required_field(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Karani", "registration")
    await log_in(client, "Karani")
    response = await post(client, "/patients/new", {"given_name": "", "family_name": ""})
    assert response.status == 400
    html = await response.text()
    for field in ("given_name", "family_name", "sex", "birth_date"):
        assert error_next_to(html, field), field


@pytest.mark.asyncio
async def test_a_name_too_long_is_called_too_long_and_kept(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Karani", "registration")
    await log_in(client, "Karani")
    response = await post(client, "/patients/new", {
        "given_name": "A" * 5000, "family_name": "", "sex": "female", "age_years": "abc"})
    assert response.status == 400
    html = await response.text()
    assert error_next_to(html, "given_name") == "Too long: at most 100 characters."
    assert error_next_to(html, "family_name") == "Please write the family name."
    assert error_next_to(html, "age_years") == "Please write a number."
    assert 'value="' + "A" * 5000 + '"' in html
    assert re.search(r'value="female"\s+checked', html)


@pytest.mark.asyncio
async def test_a_triage_flags_every_vital_out_of_range_and_keeps_them(
    client: TestClient, clinic: NodeClinicService, patient: str,  # noqa: F811
) -> None:
    await add_user(clinic, "Zawadi", "nurse")
    await log_in(client, "Zawadi")
    response = await post(client, f"/patients/{patient}/triage", {
        "temperature_c": "90", "weight_kg": "-5", "pulse_bpm": "abc", "category": "queue"})
    assert response.status == 400
    html = await response.text()
    assert error_next_to(html, "temperature_c") == "Temperature must be between 30 and 45 °C."
    assert error_next_to(html, "weight_kg") == "Weight must be between 0.3 and 300 kg."
    assert error_next_to(html, "pulse_bpm") == "Please write a number."
    assert 'value="90"' in html and 'value="-5"' in html
    assert not (await clinic.get_chart(patient)).of_kind("triage")


@pytest.mark.asyncio
async def test_an_abnormal_but_possible_vital_is_a_warning_not_an_error(
    client: TestClient, clinic: NodeClinicService, patient: str,  # noqa: F811
) -> None:
    await add_user(clinic, "Zawadi", "nurse")
    await log_in(client, "Zawadi")
    response = await post(client, f"/patients/{patient}/triage", {"temperature_c": "39.5"})
    assert response.status == 400
    html = await response.text()
    assert error_next_to(html, "category")
    assert 'id="e-temperature_c"' not in html
    assert re.search(r'<p class="warn-note" id="w-temperature_c">[^<]*outside the normal range',
                     html)
