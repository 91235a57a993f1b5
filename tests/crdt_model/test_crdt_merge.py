"""Two devices editing apart, then merging: nothing lost, conflicts surfaced for review."""

from __future__ import annotations

from crdt_fixtures import DEVICE_C, TODAY, USER_NURSE

from crdt_model import chart, directory, facility, queue
from crdt_model.adapter import Doc
from crdt_model.context import Author


def _merge_both(a: Doc, b: Doc) -> None:
    a_copy = a.fork(a.actor())
    a.merge(b)
    b.merge(a_copy)
    assert a.heads() == b.heads()
    assert a.to_dict() == b.to_dict()


def test_concurrent_entries_on_two_devices_both_survive(
    registered: Doc, nurse_a: Author, doctor_b: Author
) -> None:
    on_b = registered.fork(doctor_b.actor)
    chart.record_allergy(registered, {"substance": "Sulfa"}, nurse_a, "al-a")
    chart.open_encounter(on_b, {"chief_complaint": "cough"}, doctor_b, "enc-b")
    chart.add_note(on_b, {"text": "seen", "encounter_id": "enc-b"}, doctor_b, "n-b")
    _merge_both(registered, on_b)
    view = chart.chart_view(on_b)
    assert [a["id"] for a in view["allergies"]] == ["al-a"]
    assert view["encounters"][0]["notes"][0]["id"] == "n-b"
    assert view["review"] == []


def test_concurrent_critical_field_writes_give_one_review_item_on_both_sides(
    registered: Doc, nurse_a: Author, doctor_b: Author
) -> None:
    on_b = registered.fork(doctor_b.actor)
    chart.update_demographics(registered, {"given_name": "Aminah", "village": "Gulu"}, nurse_a,
                              "wa", TODAY)
    chart.update_demographics(on_b, {"given_name": "Amina Wanjiru", "phone": "+254 700 000001"},
                              doctor_b, "wb", TODAY)
    _merge_both(registered, on_b)
    items_a = chart.review_items(registered)
    assert items_a == chart.review_items(on_b)
    (item,) = items_a
    assert item["field"] == "given_name"
    assert {c["value"] for c in item["candidates"]} == {"Aminah", "Amina Wanjiru"}
    assert {(c["device"], c["user"]) for c in item["candidates"]} == {
        (nurse_a.device_id, nurse_a.user_id), (doctor_b.device_id, doctor_b.user_id)
    }
    assert chart.patient_row(on_b)["village"] == "Gulu"  # non-critical: no item, both kept
    # The clinician picks B's value on device B; device A learns it and the item is gone.
    choice = next(c["choice"] for c in item["candidates"] if c["value"] == "Amina Wanjiru")
    chart.resolve_review(on_b, item["id"], choice, doctor_b, "resolve-1")
    _merge_both(registered, on_b)
    assert chart.review_items(registered) == []
    assert chart.patient_row(registered)["given_name"] == "Amina Wanjiru"
    resolution = registered.to_dict()["demographic_writes"]["resolve-1.given_name"]
    assert resolution["user"] == doctor_b.user_id and len(resolution["saw"]) == 2


def test_concurrent_corrections_of_one_allergy_are_put_to_review(
    registered: Doc, nurse_a: Author, doctor_b: Author
) -> None:
    chart.record_allergy(registered, {"substance": "Penicilin"}, nurse_a, "al1")
    on_b = registered.fork(doctor_b.actor)
    chart.correct_entry(registered, "al1", {"substance": "Penicillin"}, nurse_a, "al-a")
    chart.correct_entry(on_b, "al1", {"substance": "Amoxicillin"}, doctor_b, "al-b")
    _merge_both(registered, on_b)
    (item,) = chart.review_items(on_b)
    assert item["target"] == "al1" and item["entry_kind"] == "allergy"
    assert [c["choice"] for c in item["candidates"]] == ["al-a", "al-b"]
    assert chart.chart_view(registered)["review"] == [item]
    chart.resolve_review(registered, item["id"], "al-b", nurse_a, "res1")
    _merge_both(registered, on_b)
    by_id = {a["id"]: a for a in chart.chart_view(on_b)["allergies"]}
    assert by_id["al-a"]["status"] == "voided" and by_id["al-b"]["status"] == "live"
    assert chart.review_items(on_b) == []


def test_concurrent_dispensing_on_two_devices_sums_in_stock_levels(
    registered: Doc, nurse_a: Author, doctor_b: Author
) -> None:
    clinic = facility.new_facility("kibera-hc", {"name": "Kibera HC"}, nurse_a)
    facility.add_drug(clinic, "amox", {"name": "Amoxicillin"}, nurse_a)
    facility.receive_stock(clinic, {"drug_id": "amox", "quantity": 20}, nurse_a, "in1")
    chart.prescribe(registered, {"drug": "Amoxicillin", "dose": 250, "dose_unit": "mg",
                                 "route": "oral", "frequency": "tds", "duration_days": 5},
                    nurse_a, "rx1")
    chart_b, clinic_b = registered.fork(doctor_b.actor), clinic.fork(doctor_b.actor)
    dose = {"prescription_id": "rx1", "drug_id": "amox", "quantity": 15}
    chart.dispense(registered, clinic, dose, nurse_a, "d-a", "out-a")
    chart.dispense(chart_b, clinic_b, dose, doctor_b, "d-b", "out-b")
    _merge_both(clinic, clinic_b)
    _merge_both(registered, chart_b)
    assert facility.stock_levels(clinic_b)["amox"] == {
        "name": "Amoxicillin", "level": -10, "negative": True
    }
    (rx,) = chart.chart_view(registered)["prescriptions"]
    assert sorted(d["id"] for d in rx["dispensations"]) == ["d-a", "d-b"]


def test_derived_documents_from_genesis_merge_without_losing_either_side(
    nurse_a: Author, doctor_b: Author
) -> None:
    third = Author(DEVICE_C, USER_NURSE, nurse_a.at_ms)
    fac_a = facility.new_facility("kibera-hc", {"name": "Kibera HC"}, nurse_a)
    fac_b = facility.new_facility("kibera-hc", {"name": "Kibera Health Centre"}, doctor_b)
    assert fac_a.history()[0].hash == fac_b.history()[0].hash
    facility.add_drug(fac_a, "amox", {"name": "Amoxicillin"}, nurse_a)
    facility.add_drug(fac_b, "zinc", {"name": "Zinc"}, doctor_b)
    _merge_both(fac_a, fac_b)
    assert set(facility.stock_levels(fac_a)) == {"amox", "zinc"}
    assert fac_a.to_dict()["settings"]["name"] in ("Kibera HC", "Kibera Health Centre")

    q_a = queue.queue_genesis("kibera-hc", "2026-11-22", nurse_a)
    q_b = queue.queue_genesis("kibera-hc", "2026-11-22", doctor_b)
    assert q_a.heads() == q_b.heads()
    queue.enqueue(q_a, "6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1c7e63", "triage", nurse_a, "qa")
    queue.enqueue(q_b, "0b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "registration", doctor_b, "qb")
    _merge_both(q_a, q_b)
    assert [r["entry_id"] for r in queue.queue_rows(q_b)] == ["qa", "qb"]

    d_a = directory.directory_genesis("mesh1", nurse_a)
    d_c = directory.directory_genesis("mesh1", third)
    assert d_a.heads() == d_c.heads()
    directory.add_user(d_a, "amina", {"name": "Amina", "roles": ["nurse"], "pin_hash": "h1"},
                       nurse_a)
    directory.add_device(d_c, "tab-3", {"name": "Lab tablet", "public_key": "cd" * 32}, third)
    _merge_both(d_a, d_c)
    assert set(directory.users(d_c)) == {"amina"} and set(directory.devices(d_a)) == {"tab-3"}


def test_queue_moves_made_apart_settle_on_the_latest(nurse_a: Author) -> None:
    q_a = queue.queue_genesis("kibera-hc", "2026-11-22", nurse_a)
    queue.enqueue(q_a, "6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1c7e63", "triage", nurse_a, "q1")
    q_b = q_a.fork(Author("b", "u", 0).actor)
    queue.move_to(q_a, "q1", "lab", Author("a", "u", nurse_a.at_ms + 50), "m-a")
    queue.move_to(q_b, "q1", "pharmacy", Author("b", "u", nurse_a.at_ms + 90), "m-b")
    _merge_both(q_a, q_b)
    assert queue.queue_rows(q_a)[0]["station"] == "pharmacy"
