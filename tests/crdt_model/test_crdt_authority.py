"""Who may change the mesh directory: admin devices may, an ordinary tablet only a little.

Each change is judged by the directory as of its own parents, so the verdict is the same on
every device whatever order the changes arrive in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crdt_model import directory
from crdt_model.adapter import Doc, Tx
from crdt_model.arrival import RefusedChange
from crdt_model.authority import States, admin_devices, check_authority, founder
from crdt_model.context import Author

AT = 1_763_800_000_000
DESK = Author("d1" * 8, "ad" * 8, AT)  # the founding device, its admin user
TABLET = Author("7a" * 8, "0a" * 8, AT + 1)  # an ordinary rostered tablet, a nurse on it
ROGUE = Author("e0" * 8, "0e" * 8, AT + 2)  # a device this mesh never rostered
DOC_ID = "directory:mesh1"


def _mesh() -> Doc:
    """Desk founds the mesh, adds an admin and a nurse, and pairs the tablet."""
    doc = directory.directory_genesis("mesh1", DESK)
    directory.add_device(doc, DESK.device_id, {"name": "Desk", "public_key": "ab" * 32}, DESK)
    directory.add_user(doc, "admin1", {"name": "Ada", "roles": ["admin"], "pin_hash": "h0"}, DESK)
    directory.add_user(doc, "nurse1", {"name": "Nia", "roles": ["nurse"], "pin_hash": "h1"}, DESK)
    directory.add_device(doc, TABLET.device_id, {"name": "Tablet", "public_key": "cd" * 32}, DESK)
    directory.add_device(doc, "1b" * 8, {"name": "Lab", "public_key": "ef" * 32,
                                         "invite_expires_at": AT + 10**9}, DESK)
    return doc


def _by(author: Author, base: Doc, write: Callable[[Doc], object]) -> Doc:
    after = base.fork(author.actor)
    write(after)
    return after


def _check(before: Doc, after: Doc) -> None:
    check_authority(DOC_ID, after, before.heads(), before.to_dict())


def test_the_founder_is_the_admin_device_and_its_writes_pass() -> None:
    doc = _mesh()
    assert founder(doc.to_dict()) == DESK.device_id
    assert admin_devices(doc.to_dict()) == {DESK.device_id}
    check_authority(DOC_ID, doc, [], None)  # a data dir handed its first directory


@pytest.mark.parametrize(("write", "path"), [
    (lambda d: directory.add_user(d, "x", {"name": "Eve", "roles": ["admin"], "pin_hash": "0"},
                                  TABLET), "users/x"),
    (lambda d: directory.set_pin_hash(d, "admin1", "0000", TABLET), "users/admin1/pin_hash"),
    (lambda d: directory.set_user_roles(d, "nurse1", ["admin"], TABLET), "users/nurse1/roles"),
    (lambda d: directory.set_user_disabled(d, "admin1", True, TABLET), "users/admin1/disabled"),
    (lambda d: directory.add_device(d, "5d" * 8, {"name": "Shadow", "public_key": "12" * 32},
                                    TABLET), "devices/5d5d"),
    (lambda d: directory.make_admin_device(d, TABLET.device_id, TABLET), "admin"),
    (lambda d: directory.revoke_device(d, DESK.device_id, TABLET), "revoked_at"),
    (lambda d: directory.store_sealed_keys(d, 1, {TABLET.device_id: "99" * 40}, TABLET),
     "mesh_key.1"),
    (lambda d: d.change(lambda tx: tx.put(("settings",), "relay", "wss://evil")), "settings"),
])
def test_an_ordinary_tablet_cannot_make_admin_changes(
    write: Callable[[Doc], object], path: str
) -> None:
    before = _mesh()
    with pytest.raises(RefusedChange, match=f"Tablet is not an admin device.*{path}"):
        _check(before, _by(TABLET, before, write))


@pytest.mark.parametrize("write", [
    lambda d: directory.set_user_language(d, "admin1", "sw", TABLET),
    lambda d: directory.set_pin_hash(d, "nurse1", "h2", TABLET),
    lambda d: directory.enrol_device(d, "1b" * 8, "ef" * 32, "34" * 32, TABLET),
])
def test_an_ordinary_tablet_may_set_languages_nurse_pins_and_record_an_enrolment(
    write: Callable[[Doc], object],
) -> None:
    before = _mesh()
    _check(before, _by(TABLET, before, write))


def test_a_device_made_admin_may_then_manage_users_even_in_one_batch() -> None:
    before = _mesh()
    promoted = _by(DESK, before, lambda d: directory.make_admin_device(d, TABLET.device_id, DESK))
    after = _by(TABLET, promoted, lambda d: directory.set_user_roles(
        d, "nurse1", ["nurse", "admin"], TABLET))
    _check(before, after)  # the promotion and its use arrive together
    assert TABLET.device_id in admin_devices(after.to_dict())


def test_a_use_of_admin_rights_written_before_the_promotion_stays_refused() -> None:
    before = _mesh()
    early = _by(TABLET, before, lambda d: directory.set_user_roles(d, "nurse1", ["admin"], TABLET))
    promoted = _by(DESK, before, lambda d: directory.make_admin_device(d, TABLET.device_id, DESK))
    promoted.merge(early)  # concurrent: the tablet had not been promoted when it wrote
    with pytest.raises(RefusedChange, match="not an admin device"):
        _check(before, promoted)


def test_a_revoked_admin_device_loses_its_rights() -> None:
    before = _by(DESK, _mesh(), lambda d: directory.make_admin_device(d, TABLET.device_id, DESK))
    revoked = _by(DESK, before, lambda d: directory.revoke_device(d, TABLET.device_id, DESK))
    after = _by(TABLET, revoked, lambda d: directory.set_pin_hash(d, "admin1", "0", TABLET))
    with pytest.raises(RefusedChange, match="not an admin device"):
        _check(revoked, after)


def test_a_device_cannot_found_the_mesh_a_second_time() -> None:
    """A rogue branch from the shared first change, rostering itself as a founder."""
    before = _mesh()
    rogue = directory.directory_genesis("mesh1", ROGUE)
    directory.add_device(rogue, ROGUE.device_id, {"name": "Rogue", "public_key": "77" * 32},
                         ROGUE)
    directory.add_user(rogue, "eve", {"name": "Eve", "roles": ["admin"], "pin_hash": "0"}, ROGUE)
    after = before.fork(DESK.actor)
    after.merge(rogue)
    with pytest.raises(RefusedChange, match="found the mesh"):
        _check(before, after)


def test_the_verdict_does_not_depend_on_what_arrived_first() -> None:
    """The tablet's language change and the desk's new user, judged from either side."""
    base = _mesh()
    lang = _by(TABLET, base, lambda d: directory.set_user_language(d, "nurse1", "fr", TABLET))
    user = _by(DESK, base, lambda d: directory.add_user(
        d, "lab1", {"name": "Lou", "roles": ["lab"], "pin_hash": "h"}, DESK))
    for first, second in ((lang, user), (user, lang)):
        merged = first.fork(DESK.actor)
        merged.merge(second)
        _check(first, merged)
        _check(base, merged)


def test_a_change_touching_what_a_tablet_may_and_may_not_is_refused_whole() -> None:
    before = _mesh()

    def both(tx: Tx) -> None:
        tx.put(("users", "nurse1"), "language", "sw")
        tx.put(("users", "nurse1"), "roles", ["admin"])

    with pytest.raises(RefusedChange, match="roles"):
        _check(before, _by(TABLET, before, lambda d: d.change(both)))


def test_earlier_states_read_where_the_bindings_fork_at_panics() -> None:
    """A directory written by the UI tests on which automerge 0.7.2's `fork_at` panics
    (MissingOps): States rebuilds each earlier state from the changes instead."""
    data = (Path(__file__).parent / "data" / "directory_fork_at_panics.automerge").read_bytes()
    doc = Doc.load(data)
    states = States(doc)
    users = [sorted(states.at([change.hash]).get("users", {}))
             for change, _, _ in doc.changes()]
    assert users[0] == [] and users[-1] == sorted(doc.to_dict()["users"])
    assert states.at(doc.heads()) == doc.to_dict() and states.at([]) == {}
