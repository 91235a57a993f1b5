"""Correcting demographics in the UI (only changed fields are written; concurrent critical edits
reach the review queue), the chart header's phone and ids, and merging a duplicate chart."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import ADMIN_PIN, Clock, log_in, post, set_up

from crdt_model import chart as chart_ops
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd.clinic import new_id
from meshd.clinic_ui.service import NodeClinicService

PATIENT = {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
           "birth_date": "1990-02-03", "phone": "+254 712 345678", "village": "Kisumu Ndogo"}
_HIDDEN = re.compile(r'<input type="hidden" name="(was_\w+)" value="([^"]*)">')


async def edit_form(client: TestClient, patient_id: str) -> dict[str, str]:
    """The hidden `was_*` values and the shown values of the edit form."""
    page = await (await client.get(f"/patients/{patient_id}/edit")).text()
    was = dict(_HIDDEN.findall(page))
    shown = {k.removeprefix("was_"): v for k, v in was.items()}
    return {**was, **shown}


async def admitted(clinic: NodeClinicService, clock: Clock, **extra: str) -> str:
    await set_up(clinic)
    return await clinic.register_patient({**PATIENT, **extra}, clock.today().isoformat(), by="")


@pytest.mark.asyncio
async def test_details_are_corrected_and_the_chart_header_shows_phone_and_ids(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    pid = await admitted(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    form = await edit_form(client, pid)
    assert form["phone"] == "+254 712 345678"
    form.update(phone="0733 111222", village="Kondele", national_id="KE-1234-56",
                clinic_id="F-77", kin_name="Achieng Otieno", kin_relation="sister",
                kin_phone="0700 123456")
    response = await post(client, f"/patients/{pid}/edit", form)
    assert (response.status, response.headers["Location"]) == (303, f"/patients/{pid}/edit?saved=1")
    patient = (await clinic.get_chart(pid, by="")).patient
    assert (patient.phone, patient.village, patient.national_id, patient.clinic_id) == (
        "0733 111222", "Kondele", "KE-1234-56", "F-77")
    assert patient.next_of_kin == {"name": "Achieng Otieno", "relation": "sister",
                                   "phone": "0700 123456"}
    head = await (await client.get(f"/patients/{pid}")).text()
    for shown in ("0733 111222", "KE-1234-56", "F-77", patient.number or "?"):
        assert shown in head, shown


@pytest.mark.asyncio
async def test_a_stale_form_does_not_overwrite_what_another_device_changed(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    pid = await admitted(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    form = await edit_form(client, pid)  # opened before the other device's change arrives
    await clinic.update_demographics(pid, {"phone": "0799 000111"}, by="")
    form["village"] = "Kondele"
    assert (await post(client, f"/patients/{pid}/edit", form)).status == 303
    patient = (await clinic.get_chart(pid, by="")).patient
    assert (patient.phone, patient.village) == ("0799 000111", "Kondele")


@pytest.mark.asyncio
async def test_a_refused_value_saves_nothing(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    pid = await admitted(clinic, clock)
    await log_in(client, "Amina", ADMIN_PIN)
    form = await edit_form(client, pid)
    form.update(village="Kondele", phone="not a phone")
    response = await post(client, f"/patients/{pid}/edit", form)
    assert response.status == 400
    assert 'aria-invalid="true"' in await response.text()
    patient = (await clinic.get_chart(pid, by="")).patient
    assert (patient.phone, patient.village) == ("+254 712 345678", "Kisumu Ndogo")
    form = await edit_form(client, pid)
    form.update(kin_relation="sister")  # a next of kin needs a name
    assert (await post(client, f"/patients/{pid}/edit", form)).status == 400
    assert (await clinic.get_chart(pid, by="")).patient.next_of_kin is None


@pytest.mark.asyncio
async def test_a_name_changed_here_and_on_a_device_apart_goes_to_review(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    pid = await admitted(clinic, clock)
    doc_id = chart_id(pid)
    apart = Doc.load(await clinic.clinic.docs.export(doc_id), b"\x01" * 16)
    await log_in(client, "Amina", ADMIN_PIN)
    form = await edit_form(client, pid)
    form["given_name"] = "Barack"
    assert (await post(client, f"/patients/{pid}/edit", form)).status == 303
    author = Author("other-tablet", "nurse-2", clock.ms() + 1)
    chart_ops.update_demographics(apart, {"given_name": "Baraka J."}, author, new_id(),
                                  clock.today())
    await clinic.clinic.docs.apply_remote(doc_id, apart.save())
    items = [i for i in await clinic.review_items() if i.patient_id == pid]
    assert len(items) == 1 and items[0].field == "given_name"
    assert "Barack" in await (await client.get("/review")).text()


@pytest.mark.asyncio
async def test_a_duplicate_is_merged_after_both_charts_are_shown_side_by_side(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    keep = await admitted(clinic, clock)
    dup = await clinic.register_patient({**PATIENT, "given_name": "Barak", "phone": "0799 1"},
                                        clock.today().isoformat(), by="")
    await log_in(client, "Amina", ADMIN_PIN)
    search = await (await client.get(f"/patients/{dup}/merge", params={"q": "otieno"})).text()
    assert f"/patients/{dup}/merge/{keep}" in search
    assert f"/patients/{dup}/merge/{dup}" not in search  # not itself
    compare = await (await client.get(f"/patients/{dup}/merge/{keep}")).text()
    sides = compare.split('class="card merge-side"')
    assert len(sides) == 3 and "Barak " in sides[1] and "Baraka " in sides[2]
    response = await post(client, f"/patients/{dup}/merge/{keep}", {},
                          page=f"/patients/{dup}/merge/{keep}")
    assert (response.status, response.headers["Location"]) == (
        303, f"/patients/{keep}/edit?merged=1")
    assert (await clinic.get_chart(dup, by="")).patient.merged_into == keep
    page = await (await client.get(f"/patients/{dup}")).text()
    assert f'href="/patients/{keep}"' in page
    again = await post(client, f"/patients/{dup}/merge/{keep}", {},
                       page=f"/patients/{dup}/merge/{keep}")
    assert again.status == 409
