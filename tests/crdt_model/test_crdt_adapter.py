"""The automerge adapter: plain values, guarded failures, a plain-value cache that never lies."""

from __future__ import annotations

import os

import pytest

from crdt_model.adapter import Doc, PeerSyncState, actor_for, attribution
from crdt_model.errors import CorruptDocument, ValidationError


def _doc() -> Doc:
    doc = Doc.new(os.urandom(16))
    doc.change(lambda tx: tx.update((), {"entries": {}, "schema": 1}))
    return doc


def test_plain_values_round_trip_through_save_and_load() -> None:
    doc = _doc()
    value = {"n": 3, "f": 36.6, "ok": True, "none": None, "list": [1, "two"], "map": {"a": "b"}}
    doc.change(lambda tx: tx.put(("entries",), "e1", value))
    assert Doc.load(doc.save()).get(("entries", "e1")) == value


def test_bytes_are_refused_because_they_do_not_round_trip() -> None:
    doc = _doc()
    heads = doc.heads()
    with pytest.raises(ValidationError):
        doc.change(lambda tx: tx.put(("entries",), "e1", b"raw"))  # type: ignore[arg-type]
    assert doc.heads() == heads


def test_to_dict_is_a_private_copy_that_follows_every_kind_of_change() -> None:
    a = _doc()
    b = a.fork(os.urandom(16))
    seen = a.to_dict()
    seen["entries"]["forged"] = {}
    assert "forged" not in a.to_dict()["entries"]

    heads = a.heads()
    b.change(lambda tx: tx.put(("entries",), "by_b", 1))
    a.apply(b.changes_since(heads))
    assert a.to_dict()["entries"] == {"by_b": 1}

    b.change(lambda tx: tx.put(("entries",), "merged", 2))
    a.merge(b)
    assert a.to_dict()["entries"]["merged"] == 2

    b.change(lambda tx: tx.put(("entries",), "synced", 3))
    to_a, to_b = PeerSyncState(), PeerSyncState()
    for _ in range(10):
        message = b.generate_sync_message(to_a)
        if message is None:
            break
        a.receive_sync_message(to_b, message)
        reply = a.generate_sync_message(to_b)
        if reply is not None:
            b.receive_sync_message(to_a, reply)
    assert a.to_dict()["entries"]["synced"] == 3


def test_garbage_bytes_raise_corrupt_document_and_change_nothing() -> None:
    doc = _doc()
    before = doc.to_dict()
    with pytest.raises(CorruptDocument):
        doc.apply(b"\x85\x6f\x4a\x83 not a chunk")
    with pytest.raises(CorruptDocument):
        doc.receive_sync_message(PeerSyncState(), b"\x42garbage")
    with pytest.raises(CorruptDocument):
        Doc.load(b"garbage")
    assert doc.to_dict() == before


def test_actor_ids_name_device_and_user() -> None:
    device, user = "3f2b8c1e-0000-4000-8000-000000000001", "9a7d6e5f-0000-4000-8000-000000000002"
    actor = actor_for(device, user)
    assert attribution(actor) == ("3f2b8c1e00004000", "9a7d6e5f00004000")
    doc = Doc.new(actor)
    doc.change(lambda tx: tx.put((), "x", 1))
    assert [info.actor for info in doc.history()] == [actor]


def test_genesis_is_identical_on_two_devices() -> None:
    def build(tx: object) -> None:
        tx.update((), {"schema": 1, "entries": {}})  # type: ignore[attr-defined]

    one = Doc.genesis("queue:f1:2026-11-22", build, os.urandom(16))
    two = Doc.genesis("queue:f1:2026-11-22", build, os.urandom(16))
    assert one.heads() == two.heads()
    assert one.actor() != two.actor()


def test_shared_reads_give_one_value_and_leave_later_copies_untouched() -> None:
    doc = Doc.new(b"\x01" * 16)
    doc.change(lambda tx: tx.put((), "names", {"given": "Amina"}))
    first = doc.to_dict()
    first["names"]["given"] = "changed by a caller"
    with doc.shared_reads():
        shared = doc.to_dict()
        assert doc.to_dict() is shared
        assert shared["names"]["given"] == "Amina"  # a caller's copy never leaks back
    assert doc.to_dict() is not shared
    assert doc.to_dict() == {"names": {"given": "Amina"}}


def test_a_nested_shared_read_keeps_the_outer_value_and_keep_false_leaves_no_copy() -> None:
    doc = Doc.new(b"\x01" * 16)
    doc.change(lambda tx: tx.put((), "names", {"given": "Amina"}))
    with doc.shared_reads(keep=False):
        shared = doc.to_dict()
        with doc.shared_reads():  # a projection inside the arrival check's block, say
            assert doc.to_dict() is shared
        assert doc.to_dict() is shared
    after = doc.to_dict()  # read afresh: no copy was kept by the block
    after["names"]["given"] = "changed by a caller"
    assert after is not shared and doc.to_dict() == {"names": {"given": "Amina"}}

