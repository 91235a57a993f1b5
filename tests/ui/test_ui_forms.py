"""Forms reject bad input next to the field, in the user's language, and store nothing;
registration shows likely duplicates first; prescriptions warn about allergies."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from ui_helpers import add_user, log_in, post, set_up
from ui_service.conflicts import add_conflict

from crdt_model.errors import StoreError
from crdt_model.ids import chart_id
from meshd.clinic_ui.service import NodeClinicService

TODAY = "2026-03-10"


def error_next_to(html: str, field: str) -> str:
    """The error paragraph that belongs to `field` (aria-describedby target)."""
    found = re.search(rf'<p class="error" id="e-{re.escape(field)}" role="alert">([^<]*)</p>',
                      html)
    assert found, f"no error shown next to {field}"
    return found.group(1)


@pytest_asyncio.fixture
async def patient(clinic: NodeClinicService) -> str:
    await set_up(clinic)
    patient_id = await clinic.register_patient(
        {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
         "estimated_age_years": 30, "village": "Kisumu Ndogo"}, TODAY, by="")
    await clinic.check_in(patient_id, TODAY, by="")
    return patient_id


@pytest.mark.asyncio
async def test_impossible_temperature_is_refused_next_to_the_field(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    await add_user(clinic, "Zawadi", "nurse")
    await log_in(client, "Zawadi")
    response = await post(client, f"/patients/{patient}/triage",
                          {"temperature_c": "73", "pulse_bpm": "80", "category": "queue"})
    assert response.status == 400
    message = error_next_to(await response.text(), "temperature_c")
    assert message == "Temperature must be between 30 and 45 °C."
    assert not (await clinic.get_chart(patient)).of_kind("triage")


@pytest.mark.asyncio
async def test_errors_are_in_the_users_language(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    await add_user(clinic, "Zawadi", "nurse", language="fr")
    await log_in(client, "Zawadi")
    response = await post(client, f"/patients/{patient}/triage",
                          {"temperature_c": "37", "systolic_mmhg": "90",
                           "diastolic_mmhg": "120", "category": "queue"})
    html = await response.text()
    assert error_next_to(html, "diastolic_mmhg") == (
        "La pression diastolique doit être inférieure à la systolique.")
    response = await post(client, f"/patients/{patient}/triage",
                          {"temperature_c": "trente", "category": "queue"})
    assert error_next_to(await response.text(), "temperature_c") == "Veuillez écrire un nombre."


@pytest.mark.asyncio
async def test_danger_signs_cannot_go_to_the_green_queue(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    await add_user(clinic, "Zawadi", "nurse")
    await log_in(client, "Zawadi")
    response = await post(client, f"/patients/{patient}/triage",
                          {"pulse_bpm": "130", "danger_signs": "convulsions", "category": "queue"})
    assert response.status == 400
    assert "green queue" in error_next_to(await response.text(), "category")
    response = await post(client, f"/patients/{patient}/triage",
                          {"pulse_bpm": "130", "danger_signs": "convulsions",
                           "category": "emergency"})
    assert response.status == 303
    [queued] = await clinic.queue_today(TODAY)
    assert queued.station == "consultation" and queued.triage_category == "emergency"


@pytest.mark.asyncio
async def test_registration_refuses_empty_names_and_future_birth_dates(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Juma", "registration")
    await log_in(client, "Juma")
    response = await post(client, "/patients/new", {
        "given_name": "  ", "family_name": "Otieno", "sex": "male", "age_years": "4"})
    assert error_next_to(await response.text(), "given_name") == "Please write the given name."
    response = await post(client, "/patients/new", {
        "given_name": "Imani", "family_name": "Otieno", "sex": "female",
        "birth_date": "2031-01-01"})
    assert "not in the future" in error_next_to(await response.text(), "birth_date")
    response = await post(client, "/patients/new", {
        "given_name": "Imani", "family_name": "Otieno", "sex": "female"})
    assert "estimated age" in error_next_to(await response.text(), "birth_date")
    assert not await clinic.search_patients("Otieno")


@pytest.mark.asyncio
async def test_likely_duplicates_are_shown_before_creating(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    await add_user(clinic, "Juma", "registration")
    await log_in(client, "Juma")
    form = {"given_name": "Baraka", "family_name": "Otieno", "sex": "male", "age_years": "31"}
    response = await post(client, "/patients/new", form)
    html = await response.text()
    assert response.status == 200 and "Is this one of these patients?" in html
    assert f"/patients/{patient}/check-in" in html
    assert len(await clinic.search_patients("Otieno")) == 1
    response = await post(client, "/patients/new", {**form, "confirm_new": "1"})
    assert response.status == 303
    assert len(await clinic.search_patients("Otieno")) == 2


@pytest.mark.asyncio
async def test_search_tolerates_spelling(client: TestClient, clinic: NodeClinicService,
                                         patient: str) -> None:
    await add_user(clinic, "Juma", "registration")
    await log_in(client, "Juma")
    for query in ("barak", "Otyeno", "kisumu", patient[:8]):
        html = await (await client.get("/patients", params={"q": query})).text()
        assert "Baraka" in html, query


@pytest.mark.asyncio
async def test_dose_without_unit_is_refused(client: TestClient, clinic: NodeClinicService,
                                            patient: str) -> None:
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    response = await post(client, f"/patients/{patient}/prescriptions", {
        "drug": "Paracetamol 500 mg", "dose": "500", "dose_unit": "", "route": "oral",
        "frequency": "3x/day", "duration_days": "3"}, page=f"/patients/{patient}")
    assert response.status == 400
    assert "needs a unit" in error_next_to(await response.text(), "dose_unit")
    assert not (await clinic.get_chart(patient)).of_kind("prescription")


@pytest.mark.asyncio
async def test_prescribing_against_an_allergy_needs_confirmation(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    await clinic.add_allergy(patient, {"substance": "Amoxicillin", "severity": "severe"}, by="")
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    chart = await (await client.get(f"/patients/{patient}")).text()
    assert 'class="allergy-banner"' in chart and "Amoxicillin" in chart
    form = {"drug": "Amoxicillin 250 mg", "dose": "250", "dose_unit": "mg", "route": "oral",
            "frequency": "3x/day", "duration_days": "5"}
    response = await post(client, f"/patients/{patient}/prescriptions", form,
                          page=f"/patients/{patient}")
    assert "Allergy warning" in error_next_to(await response.text(), "drug")
    assert not (await clinic.get_chart(patient)).of_kind("prescription")
    response = await post(client, f"/patients/{patient}/prescriptions",
                          {**form, "override_reason": "no reaction last year"},
                          page=f"/patients/{patient}")
    assert response.status == 303
    assert (await clinic.get_chart(patient)).of_kind("prescription")


@pytest.mark.asyncio
async def test_a_voided_entry_stays_visible_with_its_reason(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    entry = await clinic.add_diagnosis(patient, {"code": "B54", "label": "Unspecified malaria"},
                                       by="")
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    response = await post(client, f"/patients/{patient}/void",
                          {"entry_id": entry, "reason": "wrong patient"},
                          page=f"/patients/{patient}")
    assert response.status == 303
    chart = await (await client.get(f"/patients/{patient}")).text()
    assert 'class="voided"' in chart and "Voided: wrong patient" in chart
    history = await (await client.get(f"/patients/{patient}/history")).text()
    assert "wrong patient" in history and "Daktari" in history and "triage-tablet" in history


@pytest.mark.asyncio
async def test_stock_below_zero_is_flagged_and_reconciled_by_a_count(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    drug = await clinic.add_drug("Paracetamol 500 mg", "tablet", 20, by="")
    await clinic.receive_stock(drug, 5, "", by="")
    rx = await clinic.prescribe(patient, {
        "drug": "Paracetamol 500 mg", "drug_id": drug, "dose": 500, "dose_unit": "mg",
        "route": "oral", "frequency": "3x/day", "duration_days": 3, "quantity": 9}, by="")
    await add_user(clinic, "Neema", "pharmacy")
    await log_in(client, "Neema")
    response = await post(client, "/pharmacy/dispense", {
        "prescription_id": rx, "patient_id": patient, "drug_id": drug, "quantity": "9"},
        page="/pharmacy")
    assert response.status == 303
    html = await (await client.get("/pharmacy")).text()
    assert "Below zero: count the shelf and correct" in html and "Out of stock" in html
    response = await post(client, "/pharmacy/adjust",
                          {"drug_id": drug, "counted": "0", "reason": ""}, page="/pharmacy")
    assert "Please write the reason." in error_next_to(await response.text(), "adjust-reason")
    response = await post(client, "/pharmacy/adjust",
                          {"drug_id": drug, "counted": "2", "reason": "shelf count"},
                          page="/pharmacy")
    assert response.status == 303
    assert {s.drug_id: s.level for s in await clinic.stock()}[drug] == 2


@pytest.mark.asyncio
async def test_concurrent_edits_are_resolved_with_the_reason_recorded(
    client: TestClient, clinic: NodeClinicService, patient: str
) -> None:
    item = await add_conflict(clinic, patient, "family_name",
                               [("Otiena", "Juma", "tablet-1"), ("Otiende", "Neema", "laptop-2")])
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    page = await (await client.get("/review")).text()
    assert "Otiende" in page and "tablet-1" in page and "laptop-2" in page
    response = await post(client, f"/review/{item}", {"value": "Otiende", "note": ""},
                          page="/review")
    assert response.status == 400
    response = await post(client, f"/review/{item}",
                          {"value": "Otiende", "note": "checked the ID card"}, page="/review")
    assert response.status == 303
    assert not await clinic.review_items()
    assert (await clinic.get_chart(patient)).patient.family_name == "Otiende"
    history = await clinic.chart_history(patient)
    assert any("checked the ID card" in h.summary and h.user_name == "Daktari" for h in history)


@pytest.mark.asyncio
async def test_unknown_patient_is_a_404(client: TestClient, clinic: NodeClinicService) -> None:
    await set_up(clinic)
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    for path in ("/patients/not-a-uuid", "/patients/00000000-0000-4000-8000-000000000000"):
        response = await client.get(path)
        assert response.status == 404 and '<html lang="en">' in await response.text()


@pytest.mark.asyncio
async def test_every_chart_read_names_the_user(client: TestClient, clinic: NodeClinicService,
                                               patient: str) -> None:
    daktari = await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    store = clinic.clinic.store
    before = len(await store.audit_events(chart_id(patient), limit=1000))
    for path in (f"/patients/{patient}", f"/patients/{patient}/history",
                 f"/patients/{patient}/triage"):
        assert (await client.get(path)).status == 200
    rows = await store.audit_events(chart_id(patient), limit=1000)
    reads = [r for r in rows[: len(rows) - before] if r.action in ("read", "history")]
    assert len(reads) >= 3 and all(r.user == daktari.id for r in reads)


@pytest.mark.asyncio
async def test_a_store_failure_shows_a_plain_error_page(
    client: TestClient, clinic: NodeClinicService, patient: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_user(clinic, "Daktari", "clinician", language="sw")
    await log_in(client, "Daktari")

    async def broken(*_: object, **__: object) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(clinic, "get_chart", broken)
    response = await client.get(f"/patients/{patient}")
    assert response.status == 500
    page = await response.text()
    assert '<html lang="sw">' in page and "Samahani" in page and "disk full" not in page
