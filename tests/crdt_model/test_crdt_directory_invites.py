"""An invited device's record: pending with its invite's key, then enrolled once, for good."""

from __future__ import annotations

import pytest

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.context import Author
from crdt_model.errors import ConflictError, ValidationError
from crdt_model.ids import directory_id

INVITE, OWN, OTHER = "aa" * 32, "bb" * 32, "cc" * 32
INVITER = Author("desk", "admin", 1_000)


def _invited() -> Doc:
    doc = directory.directory_genesis("mesh1", INVITER)
    directory.add_device(doc, "lab", {"name": "lab", "public_key": INVITE,
                                      "invite_expires_at": 5_000}, INVITER)
    return doc


def test_an_invite_is_enrolled_once_and_a_second_key_is_refused() -> None:
    doc = _invited()
    record = directory.devices(doc)["lab"]
    assert record["invite_expires_at"] == 5_000 and record["public_key"] == INVITE
    later = Author("desk", "system", 2_000)
    directory.enrol_device(doc, "lab", INVITE, OWN, later)
    record = directory.devices(doc)["lab"]
    assert (record["public_key"], record["invite_key"], record["invite_used_at"]) == (
        OWN, INVITE, 2_000)
    heads = doc.heads()
    assert directory.enrol_device(doc, "lab", INVITE, OWN, later) == heads
    with pytest.raises(ConflictError):
        directory.enrol_device(doc, "lab", INVITE, OTHER, later)


def test_an_invite_expiry_must_be_epoch_ms() -> None:
    doc = directory.directory_genesis("mesh1", INVITER)
    with pytest.raises(ValidationError):
        directory.add_device(doc, "lab", {"name": "lab", "public_key": INVITE,
                                          "invite_expires_at": "tomorrow"}, INVITER)


def test_a_peer_accepts_the_enrolment_once_and_no_other_key_change() -> None:
    doc_id = directory_id("mesh1")
    before = _invited()
    enrolled = before.fork(INVITER.actor)
    directory.enrol_device(enrolled, "lab", INVITE, OWN, Author("desk", "system", 2_000))
    check_arrival(doc_id, before, enrolled)  # the one key change allowed
    swapped = enrolled.fork(INVITER.actor)
    swapped.change(lambda tx: tx.put(("devices", "lab"), "public_key", OTHER))
    with pytest.raises(RefusedChange):
        check_arrival(doc_id, enrolled, swapped)
    forged = before.fork(INVITER.actor)  # a key change that is no enrolment
    forged.change(lambda tx: tx.put(("devices", "lab"), "public_key", OTHER))
    with pytest.raises(RefusedChange):
        check_arrival(doc_id, before, forged)
