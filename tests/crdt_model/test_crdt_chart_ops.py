"""Chart operations as plain function calls: what they write, and what bad input leaves alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from crdt_fixtures import OTHER_PATIENT, PATIENT, REGISTRATION, TODAY

from crdt_model import chart
from crdt_model.adapter import Doc, attribution
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound, ValidationError
from crdt_model.ids import SCHEMA_VERSION

Unchanged = Callable[[Doc], Callable[[], None]]
RX: dict[str, Any] = {
    "drug": "Amoxicillin 250 mg", "drug_id": "amox-250", "dose": 250, "dose_unit": "mg",
    "route": "oral", "frequency": "tds", "duration_days": 5, "quantity": 15,
}


def test_registration_creates_every_container_in_the_first_change(
    registered: Doc, nurse_a: Author
) -> None:
    root = registered.to_dict()
    assert root["schema"] == SCHEMA_VERSION
    assert root["type"] == "chart" and root["id"] == f"chart:{PATIENT}"
    assert root["entries"] == {}
    assert root["demographics"]["given_name"] == "Amina"
    assert len(registered.history()) == 1
    assert attribution(registered.history()[0].actor) == (nurse_a.device_id, nurse_a.user_id)
    write = root["demographic_writes"]["registration.given_name"]
    assert write["saw"] == [] and write["device"] == nurse_a.device_id


def test_bad_registration_raises_with_the_field() -> None:
    author = Author("a1", "u1", 0)
    with pytest.raises(ValidationError) as err:
        chart.register_patient(PATIENT, {**REGISTRATION, "sex": "x"}, author, TODAY)
    assert err.value.field == "sex"
    with pytest.raises(ValidationError) as err:
        chart.register_patient("nope", REGISTRATION, author, TODAY)
    assert err.value.field == "patient_id"


def test_update_demographics_records_what_the_writer_saw(
    registered: Doc, doctor_b: Author
) -> None:
    chart.update_demographics(registered, {"village": "Gulu", "phone": None}, doctor_b, "w1",
                              TODAY)
    root = registered.to_dict()
    assert root["demographics"]["village"] == "Gulu"
    assert root["demographics"]["phone"] is None
    assert root["demographic_writes"]["w1.village"]["saw"] == ["registration.village"]
    assert chart.patient_row(registered)["village"] == "Gulu"
    (source,) = chart.chart_view(registered)["demographics_written"]["village"]
    assert source == {"write_id": "w1.village", "value": "Gulu", "device": doctor_b.device_id,
                      "user": doctor_b.user_id, "at": doctor_b.at_ms}


def test_update_with_bad_input_changes_nothing(
    registered: Doc, doctor_b: Author, unchanged: Unchanged
) -> None:
    check = unchanged(registered)
    with pytest.raises(ValidationError) as err:
        chart.update_demographics(registered, {"village": "Gulu", "birth_date": "2030-01-01"},
                                  doctor_b, "w1", TODAY)
    assert err.value.field == "birth_date"
    check()
    chart.update_demographics(registered, {"village": "Kibera"}, doctor_b, "w2", TODAY)
    check()  # writing the value already there is not a change


def test_encounter_with_triage_note_diagnosis_and_close(
    registered: Doc, nurse_a: Author, doctor_b: Author, unchanged: Unchanged
) -> None:
    chart.open_encounter(registered, {"chief_complaint": "fever"}, nurse_a, "enc1")
    chart.record_triage(registered, {
        "encounter_id": "enc1", "category": "priority",
        "vitals": {"temperature_c": 39.2, "pulse_bpm": 118}, "danger_signs": ["pallor"],
    }, nurse_a, "tri1")
    chart.add_note(registered, {"text": "Fever 3 days.", "encounter_id": "enc1"}, doctor_b, "n1")
    chart.record_diagnosis(registered, {"code": "b54", "label": "Malaria", "encounter_id": "enc1"},
                           doctor_b, "dx1")
    chart.close_encounter(registered, "enc1", doctor_b)
    view = chart.chart_view(registered)
    (enc,) = view["encounters"]
    assert enc["open"] is False and enc["closed"]["user"] == doctor_b.user_id
    assert [t["id"] for t in enc["triage"]] == ["tri1"]
    assert enc["notes"][0]["text"] == "Fever 3 days."
    assert enc["diagnoses"][0]["code"] == "B54"
    assert enc["diagnoses"][0]["device"] == doctor_b.device_id
    check = unchanged(registered)
    with pytest.raises(ConflictError):
        chart.close_encounter(registered, "enc1", doctor_b)
    with pytest.raises(NotFound) as err:
        chart.record_triage(registered, {"encounter_id": "nope", "category": "queue",
                                         "vitals": {"pulse_bpm": 80}}, nurse_a, "tri2")
    assert err.value.field == "encounter_id"
    with pytest.raises(ConflictError) as err2:
        chart.add_note(registered, {"text": "again"}, doctor_b, "n1")
    assert err2.value.field == "entry_id"
    with pytest.raises(ValidationError) as err3:
        chart.add_note(registered, {"text": "ok"}, doctor_b, "bad id/with slash")
    assert err3.value.field == "entry_id"
    check()


def test_allergy_correction_supersedes_and_void_marks(
    registered: Doc, nurse_a: Author, doctor_b: Author
) -> None:
    chart.record_allergy(registered, {"substance": "Penicilin"}, nurse_a, "al1")
    chart.correct_entry(registered, "al1", {"substance": "Penicillin", "severity": "severe"},
                        doctor_b, "al2")
    chart.record_allergy(registered, {"substance": "Peanuts"}, nurse_a, "al3")
    chart.void_entry(registered, "al3", "wrong patient", doctor_b, "v1")
    by_id = {a["id"]: a for a in chart.chart_view(registered)["allergies"]}
    assert by_id["al1"]["status"] == "superseded" and by_id["al1"]["superseded_by"] == ["al2"]
    assert by_id["al2"]["status"] == "live" and by_id["al2"]["supersedes"] == "al1"
    assert by_id["al3"]["status"] == "voided" and by_id["al3"]["voided_by"] == ["v1"]
    with pytest.raises(ConflictError):
        chart.correct_entry(registered, "al1", {"substance": "x"}, doctor_b, "al4")
    with pytest.raises(ConflictError):
        chart.void_entry(registered, "al3", "again", doctor_b, "v2")
    with pytest.raises(ConflictError):
        chart.void_entry(registered, "v1", "undo", doctor_b, "v3")
    with pytest.raises(NotFound):
        chart.void_entry(registered, "ghost", "x", doctor_b, "v4")
    with pytest.raises(ValidationError) as err:
        chart.void_entry(registered, "al2", "  ", doctor_b, "v5")
    assert err.value.field == "reason"


def test_prescription_cancel_and_statuses(registered: Doc, doctor_b: Author) -> None:
    chart.prescribe(registered, RX, doctor_b, "rx1")
    chart.prescribe(registered, {**RX, "drug": "Zinc", "drug_id": "zinc"}, doctor_b, "rx2")
    chart.cancel_prescription(registered, "rx2", "not needed", doctor_b, "c1")
    by_id = {p["id"]: p for p in chart.chart_view(registered)["prescriptions"]}
    assert by_id["rx1"]["prescription_status"] == "active"
    assert by_id["rx2"]["prescription_status"] == "cancelled"
    with pytest.raises(ConflictError):
        chart.cancel_prescription(registered, "rx2", "again", doctor_b, "c2")
    with pytest.raises(ValidationError) as err:
        chart.prescribe(registered, {**RX, "dose_unit": None}, doctor_b, "rx3")
    assert err.value.field == "dose_unit"


def test_lab_order_and_result_are_linked(registered: Doc, doctor_b: Author) -> None:
    chart.open_encounter(registered, {}, doctor_b, "enc1")
    chart.order_lab(registered, {"test": "Malaria RDT", "encounter_id": "enc1"}, doctor_b, "lo1")
    chart.record_lab_result(registered, {"order_id": "lo1", "value": "positive",
                                         "interpretation": "positive"}, doctor_b, "lr1")
    view = chart.chart_view(registered)
    (order,) = view["lab_orders"]
    assert [r["id"] for r in order["results"]] == ["lr1"]
    assert view["encounters"][0]["lab_orders"][0]["id"] == "lo1"
    with pytest.raises(NotFound) as err:
        chart.record_lab_result(registered, {"order_id": "enc1", "value": 1}, doctor_b, "lr2")
    assert err.value.field == "order_id"


def test_link_duplicate_records_both_directions(
    registered: Doc, doctor_b: Author, unchanged: Unchanged
) -> None:
    survivor = chart.register_patient(OTHER_PATIENT, REGISTRATION, doctor_b, TODAY)
    chart.link_duplicate(registered, survivor, doctor_b, "m1")
    assert chart.patient_row(registered)["merged_into"] == f"chart:{OTHER_PATIENT}"
    assert chart.chart_view(survivor)["merged_from"] == [f"chart:{PATIENT}"]
    assert chart.patient_row(survivor)["merged_into"] is None
    check = unchanged(survivor)
    with pytest.raises(ConflictError):
        chart.link_duplicate(registered, survivor, doctor_b, "m2")
    with pytest.raises(ConflictError):
        chart.link_duplicate(survivor, registered, doctor_b, "m3")
    with pytest.raises(ValidationError):
        chart.link_duplicate(survivor, survivor, doctor_b, "m4")
    check()


def test_patient_row_has_the_search_fields(registered: Doc) -> None:
    row = chart.patient_row(registered)
    assert row == {
        "id": PATIENT, "given_name": "Amina", "family_name": "Mwangi", "sex": "female",
        "birth_date": "1990-04-12", "birth_date_estimated": False, "phone": "+254 712 345678",
        "village": "Kibera", "national_id": None, "clinic_id": None, "merged_into": None,
        "number": None,  # a chart registered without one (the core always gives one)
    }


def test_every_change_is_attributable_to_device_and_user(
    registered: Doc, nurse_a: Author, doctor_b: Author
) -> None:
    chart.add_note(registered, {"text": "seen"}, doctor_b, "n1")
    chart.add_note(registered, {"text": "seen too"}, nurse_a, "n2")
    who = [attribution(c.actor) for c in registered.history()]
    assert who == [
        (nurse_a.device_id, nurse_a.user_id),
        (doctor_b.device_id, doctor_b.user_id),
        (nurse_a.device_id, nurse_a.user_id),
    ]
