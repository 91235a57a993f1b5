"""A clinic day through the real UI service, over the SQLCipher store and the memory store."""

from __future__ import annotations

import pytest
from ui_service_helpers import PATIENT, PIN_HASH, Clock

from crdt_model.errors import ConflictError, NotFound, ValidationError
from meshd.clinic import local_day
from meshd.clinic.projections import VISITS
from meshd.clinic_ui.service import NodeClinicService

VITALS = {"temperature_c": 38.9, "pulse_bpm": 104}
RX = {"drug": "Cefalexin 250 mg", "drug_id": "cefalexin-250-mg", "dose": 250,
      "dose_unit": "mg", "route": "oral", "frequency": "3x/day", "duration_days": 5,
      "quantity": 15}


@pytest.mark.asyncio
async def test_first_run_set_up_creates_the_facility_and_its_admin_once(
    service: NodeClinicService,
) -> None:
    assert await service.facility() is None
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "sw")
    assert admin.roles == ("admin",) and admin.language == "sw" and admin.active
    facility = await service.facility()
    assert facility is not None and facility.name == "Kibera Health Post"
    with pytest.raises(ConflictError):
        await service.set_up_facility("Other", "Zawadi", PIN_HASH, "en")
    nurse = await service.add_user("Zawadi", ("nurse",), PIN_HASH, None, by=admin.id)
    with pytest.raises(ConflictError) as taken:
        await service.add_user("zawadi", ("lab",), PIN_HASH, None, by=admin.id)
    assert taken.value.field == "name"
    with pytest.raises(ValidationError):
        await service.add_user("Juma", (), PIN_HASH, None, by=admin.id)
    await service.set_user_language(nurse.id, "fr", by=nurse.id)
    await service.set_user_pin(nurse.id, "scrypt$new", by=admin.id)
    users = {u.name: u for u in await service.users()}
    assert list(users) == ["Amina", "Zawadi"]
    assert users["Zawadi"].language == "fr" and users["Zawadi"].pin_hash == "scrypt$new"


@pytest.mark.asyncio
async def test_clinic_day_from_registration_to_dispensing(
    service: NodeClinicService, clock: Clock
) -> None:
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "en")
    nurse = await service.add_user("Zawadi", ("nurse",), PIN_HASH, None, by=admin.id)
    drug = await service.add_drug("Cefalexin 250 mg", "capsule", 50, by=admin.id)
    assert drug == RX["drug_id"]  # added to the essential medicines set-up gave the facility
    with pytest.raises(ConflictError):
        await service.add_drug("Cefalexin 250 mg", "capsule", 50, by=admin.id)
    await service.receive_stock(drug, 100, "delivery 12", by=admin.id)
    today = local_day(clock())

    patient = await service.register_patient(PATIENT, today, by=admin.id)
    (found,) = await service.search_patients("barak")
    assert found.id == patient and found.birth_date_estimated  # registered with an age only
    encounter = await service.check_in(patient, today, by=admin.id)
    assert await service.check_in(patient, today, by=admin.id) == encounter  # still waiting
    (waiting,) = await service.queue_today(today)
    assert (waiting.station, waiting.encounter_id, waiting.given_name) == (
        "triage", encounter, "Baraka")

    clock.advance(300)
    await service.record_triage(patient, {"encounter_id": encounter, "category": "priority",
                                          "vitals": VITALS}, by=nurse.id)
    await service.move_patient(patient, today, "consultation", by=nurse.id)
    (waiting,) = await service.queue_today(today)
    assert waiting.station == "consultation" and waiting.triage_category == "priority"

    clock.advance(600)
    await service.add_diagnosis(patient, {"code": "B54", "label": "Malaria",
                                          "encounter_id": encounter}, by=admin.id)
    await service.add_note(patient, {"text": "Fever for 3 days."}, by=admin.id)
    rx = await service.prescribe(patient, {**RX, "encounter_id": encounter}, by=admin.id)
    order = await service.order_lab(patient, {"test": "Malaria RDT", "encounter_id": encounter},
                                    by=admin.id)
    (lab,) = await service.pending_lab_orders()
    assert (lab.order_id, lab.patient_name, lab.ordered_by) == (order, "Baraka Otieno", "Amina")
    with pytest.raises(NotFound):
        await service.record_lab_result(patient, {"order_id": rx, "value": "x"}, by=admin.id)
    await service.record_lab_result(patient, {"order_id": order, "value": "positive",
                                              "interpretation": "positive"}, by=admin.id)
    assert await service.pending_lab_orders() == []

    (pending,) = await service.pending_prescriptions()
    assert (pending.prescription_id, pending.quantity, pending.dispensed) == (rx, 15, 0)
    await service.dispense(patient, {"prescription_id": rx, "drug_id": drug, "quantity": 10},
                           by=admin.id)
    assert (await service.pending_prescriptions())[0].dispensed == 10
    await service.dispense(patient, {"prescription_id": rx, "drug_id": drug, "quantity": 5},
                           by=admin.id)
    assert await service.pending_prescriptions() == []
    level = {s.drug_id: s for s in await service.stock()}[drug]
    assert (level.level, level.reorder_level, level.unit) == (85, 50, "capsule")
    await service.adjust_stock(drug, -5, "count after spill", by=admin.id)
    assert {s.drug_id: s.level for s in await service.stock()}[drug] == 80

    (visit,) = await service.visits(today, today)
    assert visit.stations == ("registration", "triage", "consultation", "lab", "pharmacy")
    assert visit.diagnosis_codes == ("B54",) and visit.sex == "male" and visit.age_years == 34
    assert await service.visits("2020-01-01", "2020-12-31") == []

    chart = await service.get_chart(patient, by=nurse.id)
    assert chart.patient.full_name == "Baraka Otieno" and chart.patient.birth_date_estimated
    kinds = [e.kind for e in chart.entries]
    assert kinds.count("dispensation") == 2 and "triage" in kinds and "encounter" in kinds
    triage = chart.of_kind("triage")[0]
    assert (triage.user_name, triage.device_name) == ("Zawadi", "triage-tablet")
    history = await service.chart_history(patient, by=nurse.id)
    assert history[0].action == "registered" and history[0].user_name == "Amina"
    assert {"triage", "diagnosis", "lab_result", "dispensation"} <= {h.action for h in history}
    assert [h.at_ms for h in history] == sorted(h.at_ms for h in history)


@pytest.mark.asyncio
async def test_chart_reads_and_writes_are_audited_with_the_user(
    service: NodeClinicService, clock: Clock
) -> None:
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "en")
    patient = await service.register_patient(PATIENT, local_day(clock()), by=admin.id)
    await service.get_chart(patient, by="reader-7")
    await service.add_allergy(patient, {"substance": "Penicillin"}, by=admin.id)
    rows = await service.clinic.store.audit_events(f"chart:{patient}")
    assert [(r.action, r.user) for r in reversed(rows)] == [
        ("register", admin.id), ("read", "reader-7"), ("allergy", admin.id)]
    assert {r.origin for r in rows} == {"ui"}


@pytest.mark.asyncio
async def test_void_keeps_the_entry_struck_through_and_bad_input_stores_nothing(
    service: NodeClinicService, clock: Clock
) -> None:
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "en")
    patient = await service.register_patient(PATIENT, local_day(clock()), by=admin.id)
    allergy = await service.add_allergy(patient, {"substance": "Penicillin"}, by=admin.id)
    await service.void_entry(patient, allergy, "wrong patient", by=admin.id)
    (entry,) = (await service.get_chart(patient)).of_kind("allergy", include_voided=True)
    assert entry.voided and entry.void_reason == "wrong patient"
    with pytest.raises(ConflictError):
        await service.void_entry(patient, allergy, "again", by=admin.id)
    before = await service.clinic.store.read(f"chart:{patient}")
    with pytest.raises(ValidationError):  # (a triage without an encounter joins today's visit)
        await service.record_triage(patient, {"category": "queue",
                                              "vitals": {**VITALS, "temperature_c": 73}},
                                    by=admin.id)
    assert await service.clinic.store.read(f"chart:{patient}") == before
    assert await service.queue_today(local_day(clock())) == [], "bad input checks nobody in"
    with pytest.raises(NotFound):
        await service.get_chart("0b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b")
    with pytest.raises(NotFound):
        await service.move_patient(patient, local_day(clock()), "lab", by=admin.id)


@pytest.mark.asyncio
async def test_worklist_rows_are_written_with_the_chart_write(
    service: NodeClinicService, clock: Clock
) -> None:
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "en")
    today = local_day(clock())
    patient = await service.register_patient(PATIENT, today, by=admin.id)
    assert await service.clinic.store.worklist(VISITS) == []
    await service.check_in(patient, today, by=admin.id)
    # No later step fills them in: the rows are there as soon as the write returns.
    (row,) = await service.clinic.store.worklist(VISITS, today, today)
    assert row.doc_id == f"chart:{patient}" and row.row["stations"] == ["registration"]
    order = await service.order_lab(patient, {"test": "Hb"}, by=admin.id)
    assert [r.key for r in await service.clinic.store.worklist("lab_order")] == [order]


@pytest.mark.asyncio
async def test_sync_status_without_an_engine_says_offline_since_start(
    service: NodeClinicService, clock: Clock
) -> None:
    status = await service.sync_status()
    assert status.device_name == "triage-tablet" and status.peers == ()
    assert status.offline_since_ms == clock() and status.relay is None


@pytest.mark.asyncio
async def test_search_finds_prefixes_first_then_misspelt_names(
    service: NodeClinicService, clock: Clock
) -> None:
    today = local_day(clock())
    odhiambo = await service.register_patient(
        {**PATIENT, "given_name": "Imani", "family_name": "Odhiambo"}, today, by="u1")
    otieno = await service.register_patient(PATIENT, today, by="u1")
    assert [p.id for p in await service.search_patients("odhiamb")] == [odhiambo]
    assert [p.id for p in await service.search_patients("odiambo")] == [odhiambo]
    assert [p.id for p in await service.search_patients("imani odiambo")] == [odhiambo]
    assert [p.id for p in await service.search_patients("baraka otieo")] == [otieno]
    assert await service.search_patients("zzz") == []
    assert await service.search_patients("ox") == []  # too short to guess a spelling
