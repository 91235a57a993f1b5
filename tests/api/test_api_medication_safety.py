"""Medication safety in the clinic core, met through the API: allergies checked by drug class
(penicillins and other beta-lactams, sulfonamides, NSAIDs), overrides kept with their author and
shown to the pharmacist, the default catalogue of a fresh facility, and dispensing exactly what
was prescribed (issue 13, defects 1 to 3)."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Api

from meshd.clinic import Caller

DOSING = {"dose": 250, "dose_unit": "mg", "route": "oral", "frequency": "three times a day",
          "duration_days": 5}


async def _allergic(api: Api, **allergy: Any) -> str:
    pid = await api.register()
    status, body = await api.post(f"/api/v1/patients/{pid}/allergies", allergy)
    assert status == 201, body
    return pid


@pytest.mark.asyncio
@pytest.mark.parametrize(("allergy", "drug"), [
    ({"substance": "Penicillin"}, "Amoxicillin 250 mg"),
    ({"substance": "Pénicilline"}, "Ampicillin"),
    ({"substance": "Penicillin"}, "Ceftriaxone 1 g"),  # another beta-lactam
    ({"substance": "Sulfa drugs"}, "Co-trimoxazole 480 mg"),
    ({"substance": "Sulfamethoxazole"}, "Cotrimoxazole"),
    ({"substance": "Aspirin"}, "Ibuprofen 200 mg"),
    ({"substance": "Beta-lactams", "atc": "J01C"}, "Amoxil"),  # a brand name of amoxicillin
])
async def test_an_allergy_refuses_every_drug_of_its_class(
    memory_api: Api, allergy: dict[str, str], drug: str,
) -> None:
    pid = await _allergic(memory_api, **allergy)
    heads = await memory_api.all_heads()
    status, body = await memory_api.post(f"/api/v1/patients/{pid}/prescriptions",
                                         {"drug": drug, **DOSING})
    assert (status, body.get("error")) == (409, "allergy_conflict"), body
    assert allergy["substance"] in body["message"]
    assert await memory_api.all_heads() == heads


@pytest.mark.asyncio
@pytest.mark.parametrize(("allergy", "drug"), [
    ("Penicillin", "Co-trimoxazole 480 mg"),
    ("Sulfa drugs", "Amoxicillin 250 mg"),
    ("Ibuprofen", "Paracetamol 500 mg"),
])
async def test_a_drug_of_another_class_is_prescribed_without_warning(
    memory_api: Api, allergy: str, drug: str,
) -> None:
    pid = await _allergic(memory_api, substance=allergy)
    status, body = await memory_api.post(f"/api/v1/patients/{pid}/prescriptions",
                                         {"drug": drug, **DOSING})
    assert status == 201, body


@pytest.mark.asyncio
async def test_an_unknown_class_code_is_refused(memory_api: Api) -> None:
    pid = await memory_api.register()
    status, body = await memory_api.post(f"/api/v1/patients/{pid}/allergies",
                                         {"substance": "Penicillins", "atc": "penicillin"})
    assert (status, body["error"], body["field"]) == (400, "invalid", "atc")


async def _set_up(api: Api) -> tuple[Caller, Caller]:
    clinic = api.clinic
    admin = await clinic.set_up_facility("Test Clinic", {"name": "Amina", "pin_hash": "x"}, "ui")
    doctor = await clinic.add_user({"name": "Baraka", "roles": ["clinician"], "pin_hash": "x"},
                                   Caller(admin, "ui"))
    chemist = await clinic.add_user({"name": "Chege", "roles": ["pharmacy"], "pin_hash": "x"},
                                    Caller(admin, "ui"))
    return Caller(doctor, "ui"), Caller(chemist, "ui")


@pytest.mark.asyncio
async def test_a_fresh_facility_ships_the_essential_medicines_with_their_atc_codes(
    memory_api: Api,
) -> None:
    await _set_up(memory_api)
    drugs = await memory_api.clinic.drugs()
    by_atc = {d["atc"]: d for d in drugs.values()}
    for atc in ("J01CA04", "J01EE01", "P01BF01", "N02BE01", "M01AE01", "A07CA", "A12CB01"):
        assert atc in by_atc, f"no {atc} in the default catalogue"
    status, body = await memory_api.post(
        "/api/v1/facility/drugs", {"name": "Doxycycline 100 mg", "atc": "J01AA02"})
    assert status == 201, body  # an admin extends it


@pytest.mark.asyncio
async def test_an_override_is_kept_with_its_author_and_shown_to_the_pharmacist(
    memory_api: Api,
) -> None:
    doctor, _ = await _set_up(memory_api)
    clinic = memory_api.clinic
    amoxicillin = next(k for k, d in (await clinic.drugs()).items() if d["atc"] == "J01CA04")
    pid = await memory_api.register()
    await clinic.add_allergy(pid, {"substance": "Penicillins", "atc": "J01C"}, doctor)
    order = {"drug_id": amoxicillin, "drug": "Amoxicillin", **DOSING, "quantity": 15,
             "instructions": "after meals"}
    with pytest.raises(Exception, match="allergic to Penicillins"):
        await clinic.prescribe(pid, order, doctor)
    await clinic.prescribe(pid, {**order, "override_reason": "tolerated it in 2025"}, doctor)
    [row] = await clinic.pending_prescriptions()
    assert row["override_reason"] == "tolerated it in 2025"
    assert row["prescribed_by"] == doctor.user
    assert row["instructions"] == "after meals"
    assert row["allergies"] == ["Penicillins"]


@pytest.mark.asyncio
async def test_a_catalogue_prescription_dispenses_that_drug_only(memory_api: Api) -> None:
    doctor, chemist = await _set_up(memory_api)
    clinic = memory_api.clinic
    drugs = await clinic.drugs()
    amoxicillin = next(k for k, d in drugs.items() if d["atc"] == "J01CA04")
    cotrimoxazole = next(k for k, d in drugs.items() if d["atc"] == "J01EE01")
    pid = await memory_api.register()
    rx = await clinic.prescribe(pid, {"drug_id": cotrimoxazole, "drug": "Co-trimoxazole",
                                      **DOSING, "quantity": 10}, doctor)
    heads = await memory_api.all_heads()
    status, body = await memory_api.post(f"/api/v1/patients/{pid}/dispense", {
        "prescription_id": rx, "drug_id": amoxicillin, "quantity": 10})
    assert (status, body["error"], body["field"]) == (409, "conflict", "drug_id")
    assert await memory_api.all_heads() == heads
    await clinic.dispense(pid, {"prescription_id": rx, "drug_id": cotrimoxazole,
                                "quantity": 10}, chemist)
    stock = await clinic.stock()
    assert stock[cotrimoxazole]["level"] == -10 and stock[amoxicillin]["level"] == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(("quantity", "status"), [(23, 400), (24, 201), (72, 201), (240, 400)])
async def test_a_quantity_of_tablets_covers_dose_times_frequency_times_days(
    memory_api: Api, quantity: int, status: int,
) -> None:
    pid = await memory_api.register()
    got, body = await memory_api.post(f"/api/v1/patients/{pid}/prescriptions", {
        "drug": "Artemether + lumefantrine", "dose": 4, "dose_unit": "tablet", "route": "oral",
        "frequency": "2x/day", "duration_days": 3, "quantity": quantity})
    assert got == status, body
    if status == 400:
        assert body["field"] == "quantity" and body["errors"][0]["limits"] == [24, 72]


@pytest.mark.asyncio
async def test_a_corrected_prescription_is_checked_for_allergies_too(memory_api: Api) -> None:
    pid = await _allergic(memory_api, substance="Penicillin")
    base = f"/api/v1/patients/{pid}"
    status, body = await memory_api.post(f"{base}/prescriptions",
                                         {"drug": "Co-trimoxazole", **DOSING})
    assert status == 201, body
    heads = await memory_api.all_heads()
    status, body = await memory_api.post(f"{base}/entries/{body['id']}/correct",
                                         {"drug": "Amoxicillin", **DOSING})
    assert (status, body.get("error")) == (409, "allergy_conflict"), body
    assert await memory_api.all_heads() == heads
