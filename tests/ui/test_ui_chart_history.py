"""What the chart and its history tell a clinician (issue 13, defects 4 to 6): each vital sign's
latest value with when it was taken, the triage note, and a history of translated sentences
that names what a void replaced."""

from __future__ import annotations

import html as html_lib
import re

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from ui_helpers import Clock, add_user, log_in, set_up

from meshd.clinic_ui.service import NodeClinicService
from ui import i18n

TODAY = "2026-03-10"


@pytest_asyncio.fixture
async def seen(clinic: NodeClinicService, clock: Clock) -> str:
    """A patient triaged twice (the second time only the temperature), with a lab result, a
    voided diagnosis and a dispensed prescription."""
    await set_up(clinic)
    pid = await clinic.register_patient(
        {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
         "birth_date": "1990-01-02"}, TODAY, by="")
    await clinic.record_triage(pid, {"category": "queue", "vitals": {
        "systolic_mmhg": 150, "diastolic_mmhg": 95, "pulse_bpm": 88, "weight_kg": 61.5},
        "note": "came walking, tired"}, by="")
    clock.advance(3600)
    await clinic.record_triage(pid, {"category": "priority", "vitals": {"temperature_c": 39.2},
                                     "note": "fever since last night"}, by="")
    order = await clinic.order_lab(pid, {"test": "Haemoglobin", "code": "hb"}, by="")
    await clinic.record_lab_result(pid, {"order_id": order, "value": 9.1, "unit": "g/dL"},
                                   by="")
    diagnosis = await clinic.add_diagnosis(pid, {"code": "B54", "label": "Malaria"}, by="")
    await clinic.void_entry(pid, diagnosis, "wrong patient", by="")
    rx = await clinic.prescribe(pid, {
        "drug": "Paracetamol 500 mg", "drug_id": "paracetamol-500", "dose": 500,
        "dose_unit": "mg", "route": "oral", "frequency": "3x/day", "duration_days": 3,
        "quantity": 9}, by="")
    await clinic.dispense(pid, {"prescription_id": rx, "drug_id": "paracetamol-500",
                                "quantity": 9}, by="")
    return pid


def _text(page: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.mark.asyncio
async def test_the_chart_shows_each_vitals_latest_value_and_the_triage_note(
    client: TestClient, clinic: NodeClinicService, seen: str,
) -> None:
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    page = await (await client.get(f"/patients/{seen}")).text()
    vitals = _text(page[page.index('id="vitals"'):page.index("</section>",
                                                              page.index('id="vitals"'))])
    for shown in ("39.2 °C", "150/95 mmHg", "88 /min", "61.5 kg"):
        assert shown in vitals, f"{shown} missing from {vitals!r}"
    assert "fever since last night" in vitals and "came walking, tired" in vitals


@pytest.mark.asyncio
@pytest.mark.parametrize("language", ["en", "fr", "es", "sw"])
async def test_the_history_is_sentences_in_the_users_language(
    client: TestClient, clinic: NodeClinicService, seen: str, language: str,
) -> None:
    await add_user(clinic, "Daktari", "clinician", language=language)
    await log_in(client, "Daktari")
    history = _text(await (await client.get(f"/patients/{seen}/history")).text())
    for internal in ("lab_result", "dispensation", "birth_date_estimated", "void:",
                     "triage:", "given_name", "prescription:"):
        assert internal not in history, f"{internal!r} shown in {language}"
    assert "fever since last night" in history
    decimal = "," if language in ("fr", "es") else "."
    haemoglobin = i18n.translations(language).gettext("Haemoglobin")
    assert f"{haemoglobin}: 9{decimal}1 g/dL" in history
    assert "Malaria (B54)" in history and "wrong patient" in history
    if language == "fr":
        assert "Annulé : Malaria (B54)" in history
        assert "Délivré : 9 × Paracetamol 500 mg" in history


@pytest.mark.asyncio
async def test_a_childs_dose_in_mg_shows_the_mg_per_kg(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    pid = await clinic.register_patient(
        {"given_name": "Imani", "family_name": "Otieno", "sex": "female",
         "estimated_age_years": 4}, TODAY, by="")
    await clinic.record_triage(pid, {"category": "queue", "vitals": {"weight_kg": 16}}, by="")
    await clinic.prescribe(pid, {"drug": "Amoxicillin 250 mg", "dose": 400, "dose_unit": "mg",
                                 "route": "oral", "frequency": "2x/day", "duration_days": 5},
                           by="")
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    page = _text(await (await client.get(f"/patients/{pid}")).text())
    assert "400 mg (25 mg/kg)" in page
