"""Worklists and visit facts derived from a chart; the small directory/facility additions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crdt_fixtures import T0_MS

from crdt_model import chart, directory, facility, worklists
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import ValidationError

RX = {"drug": "Amoxicillin", "drug_id": "amox", "dose": 250, "dose_unit": "mg",
      "route": "oral", "frequency": "3x/day", "duration_days": 5, "quantity": 15}


def utc_day(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).date().isoformat()


DAY0 = utc_day(T0_MS)


def test_lab_order_is_pending_until_a_live_result_answers_it(
    registered: Doc, nurse_a: Author
) -> None:
    chart.order_lab(registered, {"test": "Malaria RDT", "code": "malaria_rdt"}, nurse_a, "o1")
    chart.order_lab(registered, {"test": "Hb"}, nurse_a, "o2")
    assert [r["order_id"] for r in worklists.pending_lab_orders(registered)] == ["o1", "o2"]
    chart.record_lab_result(registered, {"order_id": "o1", "value": "positive"}, nurse_a, "r1")
    pending = worklists.pending_lab_orders(registered)
    assert [r["order_id"] for r in pending] == ["o2"]
    assert pending[0]["ordered_by"] == nurse_a.user_id and pending[0]["at_ms"] == T0_MS
    chart.void_entry(registered, "r1", "wrong patient", nurse_a, "v1")
    assert {r["order_id"] for r in worklists.pending_lab_orders(registered)} == {"o1", "o2"}
    chart.void_entry(registered, "o2", "ordered twice", nurse_a, "v2")
    assert [r["order_id"] for r in worklists.pending_lab_orders(registered)] == ["o1"]


def test_prescription_is_pending_until_its_quantity_is_dispensed(
    registered: Doc, nurse_a: Author
) -> None:
    fac = facility.facility_genesis("f1", nurse_a)
    facility.add_drug(fac, "amox", {"name": "Amoxicillin", "reorder_level": 20}, nurse_a)
    chart.prescribe(registered, RX, nurse_a, "p1")
    chart.prescribe(registered, {**RX, "quantity": None}, nurse_a, "p2")
    chart.dispense(registered, fac, {"prescription_id": "p1", "drug_id": "amox", "quantity": 5},
                   nurse_a, "d1", "l1")
    rows = {r["prescription_id"]: r for r in worklists.pending_prescriptions(registered)}
    assert rows["p1"]["dispensed"] == 5 and rows["p1"]["quantity"] == 15
    assert rows["p2"]["dispensed"] == 0
    chart.dispense(registered, fac, {"prescription_id": "p1", "drug_id": "amox", "quantity": 10},
                   nurse_a, "d2", "l2")
    chart.dispense(registered, fac, {"prescription_id": "p2", "drug_id": "amox", "quantity": 1},
                   nurse_a, "d3", "l3")
    assert worklists.pending_prescriptions(registered) == []
    chart.prescribe(registered, RX, nurse_a, "p3")
    chart.cancel_prescription(registered, "p3", "allergy", nurse_a, "c3")
    assert worklists.pending_prescriptions(registered) == []
    assert facility.drug_catalogue(fac)["amox"]["reorder_level"] == 20


def test_visit_facts_follow_the_patient_through_the_stations(
    registered: Doc, nurse_a: Author
) -> None:
    later = Author(nurse_a.device_id, nurse_a.user_id, T0_MS + 60_000)
    chart.open_encounter(registered, {}, nurse_a, "e1")
    assert worklists.visit_facts(registered, utc_day) == [{
        "day": DAY0, "encounter_id": "e1", "open": True, "sex": "female", "age_years": 36,
        "stations": ["registration"], "diagnosis_codes": [], "triage_category": None,
        "critical_results": [],
    }]
    chart.record_triage(registered, {"encounter_id": "e1", "category": "priority",
                                     "vitals": {"temperature_c": 38.9}}, later, "t1")
    chart.record_diagnosis(registered, {"code": "b54", "label": "Malaria", "encounter_id": "e1"},
                           later, "dx1")
    chart.record_diagnosis(registered, {"code": "J06.9", "label": "URTI", "encounter_id": "e1"},
                           later, "dx2")
    chart.void_entry(registered, "dx2", "wrong code", later, "v1")
    chart.order_lab(registered, {"test": "Malaria RDT", "encounter_id": "e1"}, later, "o1")
    chart.record_lab_result(registered, {"order_id": "o1", "value": "positive"}, later, "r1")
    (fact,) = worklists.visit_facts(registered, utc_day)
    assert fact["stations"] == ["registration", "triage", "consultation", "lab"]
    assert fact["diagnosis_codes"] == ["B54"] and fact["triage_category"] == "priority"


def test_visit_facts_give_one_fact_per_day_and_skip_voided_encounters(
    registered: Doc, nurse_a: Author
) -> None:
    next_day = Author(nurse_a.device_id, nurse_a.user_id, T0_MS + 86_400_000)
    chart.open_encounter(registered, {}, nurse_a, "e1")
    chart.open_encounter(registered, {}, nurse_a, "e2")
    chart.open_encounter(registered, {}, next_day, "e3")
    chart.open_encounter(registered, {}, next_day, "e4")
    chart.void_entry(registered, "e4", "opened by mistake", next_day, "v1")
    facts = worklists.visit_facts(registered, utc_day)
    assert [(f["day"], f["encounter_id"]) for f in facts] == [(DAY0, "e2"),
                                                               (utc_day(next_day.at_ms), "e3")]


def test_age_on_is_none_for_unusable_birth_dates() -> None:
    assert worklists.age_on("2020-06-01", "2026-05-31") == 5
    assert worklists.age_on(None, "2026-05-31") is None
    assert worklists.age_on("2030-01-01", "2026-05-31") is None


def test_user_language_is_remembered_and_checked(nurse_a: Author) -> None:
    doc = directory.directory_genesis("mesh1", nurse_a)
    directory.add_user(doc, "u1", {"name": "Amina", "roles": ["admin"], "pin_hash": "x"}, nurse_a)
    directory.set_user_language(doc, "u1", "sw", nurse_a)
    assert directory.users(doc)["u1"]["language"] == "sw"
    with pytest.raises(ValidationError):
        directory.set_user_language(doc, "u1", "not a tag", nurse_a)
    with pytest.raises(ValidationError):
        facility.add_drug(facility.facility_genesis("f1", nurse_a), "zinc",
                          {"name": "Zinc", "reorder_level": -1}, nurse_a)
