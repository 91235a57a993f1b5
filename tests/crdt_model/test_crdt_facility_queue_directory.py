"""Facility stock, dispensing across two documents, the day's queue and the mesh directory."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from crdt_fixtures import PATIENT

from crdt_model import chart, directory, facility, queue
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound, ValidationError

Unchanged = Callable[[Doc], Callable[[], None]]
RX = {"drug": "Amoxicillin", "drug_id": "amox-250", "dose": 250, "dose_unit": "mg",
      "route": "oral", "frequency": "tds", "duration_days": 5, "quantity": 15}


@pytest.fixture
def clinic(nurse_a: Author) -> Doc:
    doc = facility.new_facility("kibera-hc", {"name": "Kibera Health Centre"}, nurse_a)
    facility.add_drug(doc, "amox-250", {"name": "Amoxicillin 250 mg", "form": "capsule"},
                      nurse_a)
    facility.receive_stock(doc, {"drug_id": "amox-250", "quantity": 100, "ref": "KEMSA-7"},
                           nurse_a, "l1")
    return doc


def test_stock_levels_sum_the_ledger_and_flag_negative(clinic: Doc, nurse_a: Author) -> None:
    facility.adjust_stock(clinic, {"drug_id": "amox-250", "quantity": -130, "reason": "count"},
                          nurse_a, "l2")
    assert facility.stock_levels(clinic) == {
        "amox-250": {"name": "Amoxicillin 250 mg", "level": -30, "negative": True}
    }
    assert clinic.to_dict()["settings"] == {"name": "Kibera Health Centre"}


def test_bad_stock_moves_change_nothing(
    clinic: Doc, nurse_a: Author, unchanged: Unchanged
) -> None:
    check = unchanged(clinic)
    for data, field in [
        ({"drug_id": "amox-250", "quantity": 0}, "quantity"),
        ({"drug_id": "amox-250", "quantity": "5"}, "quantity"),
        ({"drug_id": "amox-250", "quantity": 5, "lot": "x"}, "lot"),
    ]:
        with pytest.raises(ValidationError) as err:
            facility.receive_stock(clinic, data, nurse_a, "l9")
        assert err.value.field == field
    with pytest.raises(NotFound):
        facility.receive_stock(clinic, {"drug_id": "ghost", "quantity": 5}, nurse_a, "l9")
    with pytest.raises(ConflictError):
        facility.receive_stock(clinic, {"drug_id": "amox-250", "quantity": 5}, nurse_a, "l1")
    with pytest.raises(ConflictError):
        facility.add_drug(clinic, "amox-250", {"name": "again"}, nurse_a)
    with pytest.raises(ValidationError):
        facility.adjust_stock(clinic, {"drug_id": "amox-250", "quantity": 3}, nurse_a, "l9")
    check()


def test_dispense_writes_chart_and_ledger(
    clinic: Doc, registered: Doc, doctor_b: Author
) -> None:
    chart.prescribe(registered, RX, doctor_b, "rx1")
    chart.dispense(registered, clinic, {"prescription_id": "rx1", "drug_id": "amox-250",
                                        "quantity": 15}, doctor_b, "d1", "l-d1")
    assert facility.stock_levels(clinic)["amox-250"]["level"] == 85
    ledger = clinic.to_dict()["ledger"]["l-d1"]
    assert ledger["kind"] == "dispense" and ledger["ref"] == f"chart:{PATIENT}/d1"
    (rx,) = chart.chart_view(registered)["prescriptions"]
    assert rx["prescription_status"] == "dispensed"
    assert rx["dispensations"][0]["ledger_id"] == "l-d1"


def test_refused_dispense_changes_neither_document(
    clinic: Doc, registered: Doc, doctor_b: Author, unchanged: Unchanged
) -> None:
    chart.prescribe(registered, RX, doctor_b, "rx1")
    chart.cancel_prescription(registered, "rx1", "allergy", doctor_b, "c1")
    checks = [unchanged(registered), unchanged(clinic)]
    good = {"prescription_id": "rx1", "drug_id": "amox-250", "quantity": 15}
    with pytest.raises(ConflictError):
        chart.dispense(registered, clinic, good, doctor_b, "d1", "l-d1")
    with pytest.raises(NotFound):
        chart.dispense(registered, clinic, {**good, "prescription_id": "rx9"}, doctor_b, "d1",
                       "l-d1")
    chart.prescribe(registered, RX, doctor_b, "rx2")
    checks = [unchanged(registered), unchanged(clinic)]
    with pytest.raises(NotFound) as err:
        chart.dispense(registered, clinic, {**good, "prescription_id": "rx2", "drug_id": "zinc"},
                       doctor_b, "d1", "l-d1")
    assert err.value.field == "drug_id"
    with pytest.raises(ConflictError):
        chart.dispense(registered, clinic, {**good, "prescription_id": "rx2"}, doctor_b, "d1",
                       "l1")
    for check in checks:
        check()


def test_queue_current_station_is_the_latest_move(nurse_a: Author, doctor_b: Author) -> None:
    doc = queue.queue_genesis("kibera-hc", "2026-11-22", nurse_a)
    queue.enqueue(doc, PATIENT, "registration", nurse_a, "q1")
    queue.move_to(doc, "q1", "triage", Author("a", "u", nurse_a.at_ms + 10), "m1")
    queue.move_to(doc, "q1", "consultation", Author("b", "u", nurse_a.at_ms + 20), "m2")
    (row,) = queue.queue_rows(doc)
    assert row == {"entry_id": "q1", "patient_id": PATIENT, "station": "consultation",
                   "since_ms": nurse_a.at_ms + 20, "enqueued_ms": nurse_a.at_ms}
    queue.mark_done(doc, "q1", Author("b", "u", nurse_a.at_ms + 30), "m3")
    assert queue.queue_rows(doc)[0]["station"] == "done"
    with pytest.raises(ValidationError) as err:
        queue.move_to(doc, "q1", "canteen", doctor_b, "m4")
    assert err.value.field == "station"
    with pytest.raises(NotFound):
        queue.move_to(doc, "q9", "lab", doctor_b, "m4")
    with pytest.raises(ConflictError):
        queue.enqueue(doc, PATIENT, "triage", doctor_b, "q1")


def test_a_later_move_in_the_same_millisecond_still_wins(nurse_a: Author) -> None:
    doc = queue.queue_genesis("kibera-hc", "2026-11-22", nurse_a)
    queue.enqueue(doc, PATIENT, "registration", nurse_a, "q1")
    # Move ids sort against the order of the moves, so only the step can tell them apart.
    queue.move_to(doc, "q1", "triage", nurse_a, "m9")
    queue.move_to(doc, "q1", "consultation", nurse_a, "m1")
    assert queue.queue_rows(doc)[0]["station"] == "consultation"


def test_directory_users_and_devices(nurse_a: Author) -> None:
    doc = directory.directory_genesis("mesh1", nurse_a)
    directory.add_user(doc, "amina", {"name": "Amina W.", "roles": ["nurse"],
                                      "pin_hash": "scrypt$abc"}, nurse_a)
    directory.set_user_roles(doc, "amina", ["nurse", "admin"], nurse_a)
    directory.set_pin_hash(doc, "amina", "scrypt$def", nurse_a)
    directory.add_device(doc, "tab-1", {"name": "Triage tablet", "public_key": "ab" * 32},
                         nurse_a)
    directory.revoke_device(doc, "tab-1", nurse_a)
    user = directory.users(doc)["amina"]
    assert user["roles"] == ["admin", "nurse"] and user["pin_hash"] == "scrypt$def"
    assert directory.devices(doc)["tab-1"]["revoked_at"] == nurse_a.at_ms
    with pytest.raises(ConflictError):
        directory.revoke_device(doc, "tab-1", nurse_a)
    with pytest.raises(ValidationError) as err:
        directory.add_user(doc, "bob", {"name": "Bob", "roles": ["janitor"], "pin_hash": "x"},
                           nurse_a)
    assert err.value.field == "roles"
    with pytest.raises(ValidationError) as err:
        directory.add_device(doc, "tab-2", {"name": "T2", "public_key": "XYZ"}, nurse_a)
    assert err.value.field == "public_key"
    with pytest.raises(NotFound):
        directory.set_pin_hash(doc, "ghost", "h", nurse_a)
