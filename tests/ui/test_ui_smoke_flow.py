"""A clinic day through the forms, with the aiohttp test client: every station's page renders
and each step's result shows on the next station's page."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import ADMIN_PIN, add_user, log_in, post, set_up

from meshd.clinic_ui.service import NodeClinicService


@pytest.mark.asyncio
async def test_first_run_creates_the_facility_and_logs_the_admin_in(
    client: TestClient, clinic: NodeClinicService
) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.headers["Location"] == "/setup"
    response = await post(client, "/setup", {
        "facility_name": "Kibera Health Post", "name": "Amina", "pin": "246813",
        "pin_again": "246813",
    })
    assert response.status == 303 and response.headers["Location"] == "/users"
    page = await client.get("/users")
    assert "Amina" in await page.text()
    assert (await clinic.facility()) is not None


@pytest.mark.asyncio
async def test_clinic_day_from_registration_to_dispensing(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    drug = await clinic.add_drug("Amoxicillin 250 mg", "capsule", 50, by="")
    await clinic.receive_stock(drug, 100, "", by="")
    await log_in(client, "Amina", ADMIN_PIN)

    response = await post(client, "/patients/new", {
        "given_name": "Baraka", "family_name": "Otieno", "sex": "male", "age_years": "34",
        "village": "Kisumu Ndogo", "phone": "+254 712 345678",
    })
    assert response.status == 303, await response.text()
    patient_id = re.search(r"/patients/([0-9a-f-]{36})/card", response.headers["Location"])
    assert patient_id
    pid = patient_id.group(1)
    card = await (await client.get(f"/patients/{pid}/card")).text()
    assert "<svg" in card and "Baraka" in card

    queue = await (await client.get("/queue")).text()
    assert "Baraka Otieno" in queue and "Start triage" in queue

    response = await post(client, f"/patients/{pid}/triage", {
        "temperature_c": "38.9", "pulse_bpm": "104", "systolic_mmhg": "120",
        "diastolic_mmhg": "80", "category": "priority",
    })
    assert response.status == 303, await response.text()
    chart = await (await client.get(f"/patients/{pid}")).text()
    assert "38.9" in chart and "outside normal" in chart

    search = await (await client.get(f"/patients/{pid}?dx=malaria")).text()
    assert "B54" in search
    response = await post(client, f"/patients/{pid}/diagnoses", {"code": "B54"},
                          page=f"/patients/{pid}")
    assert response.status == 303
    response = await post(client, f"/patients/{pid}/lab-orders", {"test": "malaria_rdt"},
                          page=f"/patients/{pid}")
    assert response.status == 303
    response = await post(client, f"/patients/{pid}/prescriptions", {
        "drug_id": drug, "dose": "250", "dose_unit": "mg", "route": "oral",
        "frequency": "3x/day", "duration_days": "5", "quantity": "15",
    }, page=f"/patients/{pid}")
    assert response.status == 303, await response.text()

    lab = await (await client.get("/lab")).text()
    assert "Baraka Otieno" in lab
    order = (await clinic.pending_lab_orders())[0]
    response = await post(client, f"/lab/{pid}/{order.order_id}",
                          {"value": "positive", "interpretation": "positive"}, page="/lab")
    assert response.status == 303, await response.text()
    assert not await clinic.pending_lab_orders()

    pharmacy = await (await client.get("/pharmacy")).text()
    assert "Amoxicillin" in pharmacy and "Baraka Otieno" in pharmacy
    rx = (await clinic.pending_prescriptions())[0]
    response = await post(client, "/pharmacy/dispense", {
        "prescription_id": rx.prescription_id, "patient_id": pid, "drug_id": drug,
        "quantity": "15",
    }, page="/pharmacy")
    assert response.status == 303, await response.text()
    assert {s.drug_id: s.level for s in await clinic.stock()}[drug] == 85
    assert not await clinic.pending_prescriptions()

    for page in ("/queue", "/patients?q=barak", f"/patients/{pid}/history", "/review",
                 "/sync", "/reports", "/reports?period=month", "/users", "/pharmacy", "/lab"):
        response = await client.get(page)
        assert response.status == 200, (page, await response.text())
    csv_text = await (await client.get("/reports.csv")).text()
    assert "Infectious" in csv_text
    await add_user(clinic, "Zawadi", "nurse")
