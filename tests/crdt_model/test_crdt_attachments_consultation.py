"""The pure rules of issue 14's new chart entries and of batches: an attachment reference and a
consultation are entries like any other (checked on arrival: never changed in place), and a
dispense takes the soonest-expiring batch that has not expired."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from crdt_model import chart, facility
from crdt_model.adapter import Doc, Tx
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.attachments import (
    MAX_ATTACHMENT_BYTES,
    add_attachment,
    attachment_entry,
    attachments_of,
    photo_type,
)
from crdt_model.batches import batch_levels, expiring, first_expiry_first_out
from crdt_model.chart_doc import chart_root
from crdt_model.consultation import check_follow_up, consultation_entry, follow_ups_of
from crdt_model.context import Author
from crdt_model.errors import InvalidFields, ValidationError
from crdt_model.ids import chart_id

NURSE = Author("aa" * 8, "01" * 8, 1_763_800_000_000)
INTRUDER = Author("ee" * 8, "0e" * 8, 1_763_800_100_000)
PID = str(uuid.UUID(int=7))
SHA = hashlib.sha256(b"scan").hexdigest()
REFERENCE = {"sha256": SHA, "name": "C:\\fakepath\\referral.pdf",
             "content_type": "Application/PDF; charset=binary", "size": 4}


def _chart() -> Doc:
    return chart.register_patient(PID, {"given_name": "Amina", "family_name": "Bello",
                                        "sex": "female", "birth_date": "1990-02-03"},
                                  NURSE, "2026-11-29")


def test_an_attachment_reference_is_cleaned_and_listed_until_voided() -> None:
    assert attachment_entry(REFERENCE) == {
        "sha256": SHA, "name": "referral.pdf", "content_type": "application/pdf", "size": 4,
        "purpose": "document"}
    doc = _chart()
    add_attachment(doc, REFERENCE, NURSE, "att1")
    assert [a["id"] for a in attachments_of(chart_root(doc))] == ["att1"]
    chart.void_entry(doc, "att1", "wrong patient", NURSE, "void1")
    assert attachments_of(chart_root(doc)) == []
    assert chart.chart_view(doc)["attachments"][0]["status"] == "voided"


def test_a_bad_reference_names_every_wrong_field() -> None:
    with pytest.raises(InvalidFields) as refused:
        attachment_entry({"sha256": "ABC", "name": "", "content_type": "pdf",
                          "size": MAX_ATTACHMENT_BYTES + 1, "purpose": "selfie"})
    assert [e.field for e in refused.value.errors] == [
        "sha256", "name", "content_type", "size", "purpose"]


def test_a_peer_that_changes_a_reference_in_place_is_refused() -> None:
    before = _chart()
    add_attachment(before, REFERENCE, NURSE, "att1")
    after = before.fork(INTRUDER.actor)

    def swap(tx: Tx) -> None:
        tx.put(("entries", "att1"), "sha256", "00" * 32)

    after.change(swap)
    with pytest.raises(RefusedChange, match="changed in place"):
        check_arrival(chart_id(PID), before, after)


def test_consultation_sections_and_follow_up_rules() -> None:
    assert consultation_entry({"plan": " Review ", "history": "", "follow_up": "2026-12-06"}) == {
        "plan": "Review", "follow_up": "2026-12-06"}
    with pytest.raises(InvalidFields):
        consultation_entry({"history": ""})
    check_follow_up("2026-12-06", "2026-11-29")
    for day in ("2026-11-29", "2026-11-01", "2027-12-31"):
        with pytest.raises(ValidationError):
            check_follow_up(day, "2026-11-29")


def test_a_corrected_consultation_moves_its_follow_up() -> None:
    doc = _chart()
    chart.open_encounter(doc, {}, NURSE, "visit1")
    chart.record_consultation(doc, {"plan": "BP", "follow_up": "2026-12-13",
                                    "encounter_id": "visit1"}, NURSE, "c1")
    chart.correct_entry(doc, "c1", {"plan": "BP sooner", "follow_up": "2026-12-02",
                                    "encounter_id": "visit1"}, NURSE, "c2")
    assert follow_ups_of(chart_root(doc)) == [
        {"consultation_id": "c2", "day": "2026-12-02", "plan": "BP sooner"}]


def test_first_expiry_first_out_skips_expired_and_empty_batches() -> None:
    levels = [{"batch": "OLD", "expires": "2026-11-01", "level": 50},
              {"batch": "USED", "expires": "2026-12-01", "level": 0},
              {"batch": "SOON", "expires": "2026-12-15", "level": 4},
              {"batch": "LATER", "expires": "2027-06-01", "level": 10},
              {"batch": "", "expires": None, "level": 3}]
    assert first_expiry_first_out(levels, 9, "2026-11-29") == [["SOON", 4], ["LATER", 5]]
    assert first_expiry_first_out(levels, 20, "2026-11-29") == [
        ["SOON", 4], ["LATER", 10], ["", 6]]
    assert [r["batch"] for r in expiring(levels, "2026-11-29")] == ["OLD", "SOON"]


def test_a_photo_is_known_by_its_bytes_not_its_name_or_declared_type() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(20)
    assert photo_type(png) == "image/png"
    assert photo_type(b"\xff\xd8\xff\xe0" + bytes(20)) == "image/jpeg"
    assert photo_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert photo_type(b"GIF89a" + bytes(5)) == "image/gif"
    for not_a_photo in (b"%PDF-1.4", b"<svg onload=alert(1)>", b"RIFF\x00\x00\x00\x00WAVE"):
        with pytest.raises(ValidationError) as caught:
            photo_type(not_a_photo)
        assert (caught.value.field, caught.value.problem) == ("photo", "not_image")
    with pytest.raises(ValidationError) as caught:
        photo_type(b"\xff\xd8\xff" + bytes(MAX_ATTACHMENT_BYTES))
    assert (caught.value.field, caught.value.problem) == ("photo", "out_of_range")


def test_a_count_per_batch_adjusts_only_the_batches_that_differ_and_all_or_nothing() -> None:
    doc = facility.new_facility("hilltop", {"name": "Hilltop"}, NURSE)
    facility.add_drug(doc, "amox", {"name": "Amoxicillin"}, NURSE)
    for line, batch, quantity in (("r1", "A-1", 30), ("r2", "B-2", 10), ("r3", "", 5)):
        facility.receive_stock(doc, {"drug_id": "amox", "quantity": quantity, "batch": batch,
                                     "expires": "2027-01-01"} if batch else
                               {"drug_id": "amox", "quantity": quantity}, NURSE, line)
    heads = doc.heads()
    with pytest.raises(InvalidFields) as caught:
        facility.count_batches(doc, {"drug_id": "amox", "counts": {"A-1": -1, "Z-9": 3},
                                     "reason": ""}, NURSE, ["c1", "c2"])
    assert {e.field for e in caught.value.errors} == {"counts.A-1", "counts.Z-9", "reason"}
    assert doc.heads() == heads

    written = facility.count_batches(doc, {"drug_id": "amox", "counts": {
        "A-1": 30, "B-2": 7, "": 6}, "reason": "monthly count"}, NURSE, ["c1", "c2", "c3"])

    assert written == ["c1", "c2"]
    levels = {r["batch"]: r["level"] for r in batch_levels(doc.to_dict(), "amox")}
    assert levels == {"A-1": 30, "B-2": 7, "": 6}
    ledger = doc.to_dict()["ledger"]
    assert (ledger["c1"]["quantity"], ledger["c1"]["batch"], ledger["c1"]["ref"]) == (
        -3, "B-2", "monthly count")
    assert ledger["c2"]["quantity"] == 1 and "batch" not in ledger["c2"]
