"""The medication path in the UI (issue 13, defects 1, 2, 3 and 8): an allergy chosen from the
drug classes, a clash that needs a written reason, a pharmacy worklist that shows the allergies,
instructions and override, dispensing exactly what was prescribed, and stock forms that keep
the chosen medicine after an error."""

from __future__ import annotations

import html as html_lib
import re

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from test_ui_forms import error_next_to
from ui_helpers import add_user, log_in, post, set_up

from crdt_model.errors import AllergyConflict
from meshd.clinic_ui.service import NodeClinicService

TODAY = "2026-03-10"
DOSING = {"dose": 250, "dose_unit": "mg", "route": "oral", "frequency": "three times a day",
          "duration_days": 5, "quantity": 15}


@pytest_asyncio.fixture
async def patient(clinic: NodeClinicService) -> str:
    await set_up(clinic)
    patient_id = await clinic.register_patient(
        {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
         "estimated_age_years": 30, "village": "Kisumu Ndogo"}, TODAY, by="")
    await clinic.check_in(patient_id, TODAY, by="")
    return patient_id


def _form_of(html: str, prescription_id: str) -> str:
    start = html.index(f'value="{prescription_id}"')
    return html[start:html.index("</form>", start)]


async def _levels(clinic: NodeClinicService) -> dict[str, int]:
    return {s.drug_id: s.level for s in await clinic.stock()}


@pytest.mark.asyncio
async def test_a_class_allergy_warns_and_an_override_needs_a_written_reason(
    client: TestClient, clinic: NodeClinicService, patient: str,
) -> None:
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    page = f"/patients/{patient}"
    assert '<option value="J01C">Penicillins</option>' in await (await client.get(page)).text()
    response = await post(client, f"{page}/allergies", {"allergen": "J01C"}, page=page)
    assert response.status == 303, await response.text()
    [allergy] = (await clinic.get_chart(patient)).of_kind("allergy")
    assert (allergy.data["substance"], allergy.data["atc"]) == ("Penicillins", "J01C")
    form = {"drug_id": "amoxicillin-250", "dose": "250", "dose_unit": "mg", "route": "oral",
            "frequency": "3x/day", "duration_days": "5"}
    response = await post(client, f"{page}/prescriptions", form, page=page)
    assert response.status == 400
    html = await response.text()
    assert "Penicillins" in error_next_to(html, "drug")
    assert 'name="override_reason"' in html
    response = await post(client, f"{page}/prescriptions", {**form, "allergy_confirmed": "1"},
                          page=page)
    assert response.status == 400, "ticking a box is not a reason"
    response = await post(client, f"{page}/prescriptions",
                          {**form, "override_reason": "took it in 2025 without reaction"},
                          page=page)
    assert response.status == 303
    [rx] = (await clinic.get_chart(patient)).of_kind("prescription")
    assert rx.data["override_reason"] == "took it in 2025 without reaction"


@pytest.mark.asyncio
async def test_the_pharmacist_sees_allergies_instructions_and_the_override(
    client: TestClient, clinic: NodeClinicService, patient: str,
) -> None:
    doctor = await add_user(clinic, "Daktari", "clinician")
    await clinic.add_allergy(patient, {"substance": "Penicillins", "atc": "J01C"}, by="")
    await clinic.prescribe(patient, {
        "drug": "Amoxicillin 250 mg", "drug_id": "amoxicillin-250", **DOSING,
        "instructions": "after meals", "override_reason": "took it in 2025"}, by=doctor.id)
    await add_user(clinic, "Dawa", "pharmacy")
    await log_in(client, "Dawa")
    html = await (await client.get("/pharmacy")).text()
    worklist = html[html.index('id="worklist"'):html.index('id="stock"')]
    assert "Allergies: Penicillins" in worklist
    assert "after meals" in worklist
    assert "Prescribed despite the allergy by Daktari: took it in 2025" in worklist


@pytest.mark.asyncio
async def test_a_free_text_prescription_makes_the_pharmacist_choose(
    client: TestClient, clinic: NodeClinicService, patient: str,
) -> None:
    rx = await clinic.prescribe(patient, {"drug": "Co-trimoxazole syrup", **DOSING}, by="")
    await add_user(clinic, "Dawa", "pharmacy")
    await log_in(client, "Dawa")
    form = _form_of(await (await client.get("/pharmacy")).text(), rx)
    assert re.search(r'<option value="" selected>', form), "no medicine is chosen for them"
    assert not re.search(r'<option value="[^"]+" selected', form)
    before = await _levels(clinic)
    response = await post(client, "/pharmacy/dispense", {
        "prescription_id": rx, "patient_id": patient, "drug_id": "", "quantity": "10"},
        page="/pharmacy")
    assert response.status == 400
    assert error_next_to(await response.text(), f"{rx}-drug_id")
    assert await _levels(clinic) == before
    assert not (await clinic.get_chart(patient)).of_kind("dispensation")


@pytest.mark.asyncio
async def test_a_catalogue_prescription_is_dispensed_as_written(
    client: TestClient, clinic: NodeClinicService, patient: str,
) -> None:
    rx = await clinic.prescribe(patient, {
        "drug": "Co-trimoxazole 400 mg + 80 mg", "drug_id": "cotrimoxazole-480", **DOSING}, by="")
    await add_user(clinic, "Dawa", "pharmacy")
    await log_in(client, "Dawa")
    form = _form_of(await (await client.get("/pharmacy")).text(), rx)
    assert '<input type="hidden" name="drug_id" value="cotrimoxazole-480">' in form
    assert "<select" not in form
    before = await _levels(clinic)
    response = await post(client, "/pharmacy/dispense", {
        "prescription_id": rx, "patient_id": patient, "drug_id": "amoxicillin-250",
        "quantity": "10"}, page="/pharmacy")
    assert response.status == 400
    assert await _levels(clinic) == before
    response = await post(client, "/pharmacy/dispense", {
        "prescription_id": rx, "patient_id": patient, "drug_id": "cotrimoxazole-480",
        "quantity": "15"}, page="/pharmacy")
    assert response.status == 303
    assert await _levels(clinic) == {**before, "cotrimoxazole-480": -15}
    after = await (await client.get(response.headers["Location"])).text()
    [given] = (await clinic.get_chart(patient)).of_kind("dispensation")
    label_path = f"/patients/{patient}/labels/{given.id}"
    assert f'href="{label_path}"' in after and "Print the label" in after
    label = await (await client.get(label_path)).text()
    for shown in ("Co-trimoxazole 400 mg + 80 mg", "Quantity given", "15",
                  "Print the label"):
        assert shown in label, shown
    assert (await client.get(f"/patients/{patient}/labels/{patient}")).status == 404


@pytest.mark.asyncio
async def test_a_stock_form_keeps_the_chosen_medicine_after_an_error(
    client: TestClient, clinic: NodeClinicService, patient: str,
) -> None:
    await add_user(clinic, "Dawa", "pharmacy")
    await log_in(client, "Dawa")
    response = await post(client, "/pharmacy/receive", {
        "form": "receive", "drug_id": "zinc-20", "quantity": "many"}, page="/pharmacy")
    assert response.status == 400
    html = await response.text()
    receive = html[html.index('id="r-drug"'):html.index("</select>", html.index('id="r-drug"'))]
    assert '<option value="zinc-20" selected>' in receive


@pytest.mark.asyncio
async def test_a_drug_added_with_its_atc_code_is_checked_against_allergies(
    client: TestClient, clinic: NodeClinicService, patient: str,
) -> None:
    await add_user(clinic, "Dawa", "pharmacy")
    await log_in(client, "Dawa")
    form = {"name": "Keflex 250 mg", "unit": "capsule", "reorder_level": "20"}
    response = await post(client, "/pharmacy/drugs", {**form, "atc": "cephalexin"},
                          page="/pharmacy")
    assert response.status == 400
    assert html_lib.unescape(error_next_to(await response.text(), "drug-atc")) == (
        "An ATC code looks like J01CA04 (the WHO's code of the medicine).")
    response = await post(client, "/pharmacy/drugs", {**form, "atc": "j01db01"},
                          page="/pharmacy")
    assert response.status == 303
    drugs = {s.name: s.drug_id for s in await clinic.stock()}
    await clinic.add_allergy(patient, {"substance": "Penicillin"}, by="")
    with pytest.raises(AllergyConflict):  # Keflex is a cephalosporin: a beta-lactam
        await clinic.prescribe(patient, {"drug": "Keflex 250 mg",
                                         "drug_id": drugs["Keflex 250 mg"], **DOSING}, by="")
