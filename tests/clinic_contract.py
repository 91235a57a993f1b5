"""What the UI's ClinicService must do for the UI to work: one clinic day through the Protocol.

`exercise_clinic_day(service, today)` runs on an empty service and raises AssertionError (or the
service's own error) at the first broken promise. It runs on the node's real adapter over the
one clinic core (tests/ui_service, over MemoryStore and SQLCipher); there is no other
implementation of the clinic's rules to keep in step.
"""

from __future__ import annotations

import asyncio
import contextlib

from crdt_model.errors import ClinicMeshError, ConflictError, ValidationError
from ui.service import ClinicService

EVENT_WAIT_S = 5.0
PIN_HASH = "scrypt$16384$8$1$c2FsdA==$aGFzaA=="  # opaque to the service


async def _refused(call: object, field: str) -> None:
    try:
        await call  # type: ignore[misc]
    except ValidationError as exc:
        assert exc.field is not None and exc.field.endswith(field), (exc.field, field)
    else:
        raise AssertionError(f"bad {field} was accepted")


async def exercise_clinic_day(service: ClinicService, today: str) -> None:
    """Set-up, users, registration, search, queue, triage, consultation, lab, pharmacy,
    review, sync and reports, checking what the UI relies on at each step."""
    assert await service.facility() is None, "start from an empty service"
    admin = await service.set_up_facility("Contract Clinic", "Amina", PIN_HASH, "fr")
    assert (await service.facility()) is not None and admin.roles == ("admin",)
    with contextlib.suppress(ConflictError):
        await service.set_up_facility("Again", "Other", PIN_HASH, "en")
        raise AssertionError("set_up_facility ran twice")
    nurse = await service.add_user("Zawadi", ("nurse",), PIN_HASH, None, by=admin.id)
    assert {u.name for u in await service.users()} == {"Amina", "Zawadi"}
    await service.set_user_language(nurse.id, "sw", by=nurse.id)
    assert next(u for u in await service.users() if u.id == nurse.id).language == "sw"

    changes = service.subscribe()
    first_change = asyncio.ensure_future(anext(changes))
    await _refused(service.register_patient(
        {"given_name": "Imani", "family_name": "Otieno", "sex": "female",
         "birth_date": "2999-01-01"}, today, by=admin.id), "birth_date")
    patient = await service.register_patient(
        {"given_name": "Imani", "family_name": "Otieno", "sex": "female",
         "estimated_age_years": 30, "village": "Kisumu Ndogo", "phone": "+254 712 345678"},
        today, by=admin.id)
    event = await asyncio.wait_for(first_change, EVENT_WAIT_S)
    assert event.kind in ("chart", "queue", "facility", "directory")
    await changes.aclose()  # type: ignore[attr-defined]
    for query in ("imani", "Otyeno", "kisumu", "345678"):
        found = await service.search_patients(query)
        assert patient in [p.id for p in found], f"search {query!r} misses the patient"

    encounter = await service.check_in(patient, today, by=admin.id)
    [queued] = await service.queue_today(today)
    assert queued.patient_id == patient and queued.station == "triage"
    await _refused(service.record_triage(patient, {
        "encounter_id": encounter, "category": "queue",
        "vitals": {"temperature_c": 73}}, by=nurse.id), "temperature_c")
    await service.record_triage(patient, {
        "encounter_id": encounter, "category": "priority",
        "vitals": {"temperature_c": 38.5, "pulse_bpm": 110}}, by=nurse.id)
    await service.move_patient(patient, today, "consultation", by=nurse.id)
    assert (await service.queue_today(today))[0].station == "consultation"

    await service.add_allergy(patient, {"substance": "Penicillin"}, by=admin.id)
    diagnosis = await service.add_diagnosis(patient, {"code": "B54", "label": "Malaria"},
                                            by=admin.id)
    await service.add_note(patient, {"text": "Fever for three days."}, by=admin.id)
    drug = await service.add_drug("Artemether-lumefantrine", "tablet", 30, by=admin.id)
    await service.receive_stock(drug, 10, "delivery", by=admin.id)
    await _refused(service.prescribe(patient, {
        "drug": "Artemether-lumefantrine", "dose": 4, "route": "oral", "frequency": "2x/day",
        "duration_days": 3}, by=admin.id), "dose_unit")
    prescription = await service.prescribe(patient, {
        "drug": "Artemether-lumefantrine", "drug_id": drug, "dose": 4, "dose_unit": "tablet",
        "route": "oral", "frequency": "2x/day", "duration_days": 3, "quantity": 24},
        by=admin.id)
    order = await service.order_lab(patient, {"test": "Malaria rapid test",
                                              "code": "malaria_rdt"}, by=admin.id)
    assert [o.order_id for o in await service.pending_lab_orders()] == [order]
    await service.record_lab_result(patient, {"order_id": order, "value": "positive",
                                              "interpretation": "positive"}, by=admin.id)
    assert not await service.pending_lab_orders()
    assert [p.prescription_id for p in await service.pending_prescriptions()] == [prescription]
    await service.dispense(patient, {"prescription_id": prescription, "drug_id": drug,
                                     "quantity": 24}, by=admin.id)
    assert not await service.pending_prescriptions()
    level = {s.drug_id: s for s in await service.stock()}[drug]
    assert level.level == -14, "a dispense beyond stock is kept and shows below zero"
    await service.adjust_stock(drug, 14, "shelf count", by=admin.id)
    assert {s.drug_id: s.level for s in await service.stock()}[drug] == 0

    [visit] = await service.visits(today, today)
    assert "B54" in visit.diagnosis_codes
    await service.void_entry(patient, diagnosis, "wrong code", by=admin.id)
    chart = await service.get_chart(patient, by=admin.id)
    voided = [e for e in chart.entries if e.id == diagnosis]
    assert voided and voided[0].voided and voided[0].void_reason == "wrong code"
    assert chart.of_kind("allergy")[0].data["substance"] == "Penicillin"
    history = await service.chart_history(patient, by=admin.id)
    assert len(history) >= 8 and all(h.at_ms > 0 and h.device_name for h in history)

    await service.move_patient(patient, today, "done", by=admin.id)
    [visit] = await service.visits(today, today)
    assert visit.patient_id == patient and visit.sex == "female"
    assert "B54" not in visit.diagnosis_codes, "an entered-in-error diagnosis leaves the reports"
    assert isinstance(await service.review_items(), list)
    status = await service.sync_status()
    assert status.device_name
    with contextlib.suppress(ClinicMeshError):
        await service.get_chart("00000000-0000-4000-8000-000000000000", by=admin.id)
        raise AssertionError("an unknown patient must raise NotFound")

    # Registration at the desk: likely duplicates first, then a walk-in is checked in.
    same = {"given_name": "Imani", "family_name": "Otieno", "sex": "female",
            "estimated_age_years": 31, "phone": "+254 712 345678"}
    assert patient in [p.id for p in await service.likely_duplicates(same, today)]
    await _refused(service.likely_duplicates({**same, "sex": "?"}, today), "sex")
    walk_in = await service.admit_patient({**same, "given_name": "Neema"}, today, by=admin.id)
    assert [q.station for q in await service.queue_today(today)
            if q.patient_id == walk_in] == ["triage"], "a walk-in waits for triage"
    await service.move_patient(walk_in, today, "done", by=admin.id)
