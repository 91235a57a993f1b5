"""Who may change the mesh directory `directory:<mesh>` (docs/ARCHITECTURE.md §6).

A change's author is the device its actor id names (its signature proves it: meshd.attest).
An *admin device* is a device on the roster, not revoked, that either founded the mesh (it
put itself on the empty roster: `added_by` is its own id) or was marked `admin` by an admin
device. An admin device may make any change the arrival rules allow (crdt_model.arrival).
Any other device may only:

- set a user's `language`;
- set the `pin_hash` of a user who is not an admin (a user changing their own PIN);
- record that an invited device used its invite: its `public_key`, `invite_key` and
  `invite_used_at`, while that invite is pending (the device the invited one first reaches
  writes it).

So an ordinary tablet can't add users, change roles, reset an admin's PIN, add or revoke a
device, hand out mesh keys or change settings. Each change is judged by the directory as of
its own parents, never by the order in which changes happen to arrive, so every device gives
the same verdict and a refused change can't split the mesh. A change whose parents show an
empty roster (the founder's first writes) is allowed only to the founder this device knows.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from crdt_model.actors import actor_for, genesis_actor
from crdt_model.adapter import Doc
from crdt_model.arrival import RefusedChange
from crdt_model.errors import Forbidden
from crdt_model.ids import DIRECTORY

ADMIN = "admin"
DIRECTORY_PREFIX = f"{DIRECTORY}:"
ENROLMENT_FIELDS = frozenset({"public_key", "invite_key", "invite_used_at"})


def device_of(actor: bytes, devices: Mapping[str, Any]) -> str | None:
    """The rostered device whose id an actor names, or None."""
    for device_id in devices:
        if actor_for(device_id, "")[:8] == actor[:8]:
            return device_id
    return None


def admin_devices(root: Mapping[str, Any]) -> set[str]:
    """The ids of the admin devices of a directory (as `Doc.to_dict()` gives it)."""
    return {
        device_id for device_id, record in _devices(root).items()
        if isinstance(record, dict) and record.get("revoked_at") is None
        and (record.get(ADMIN) is True or record.get("added_by") == device_id)
    }


def founder(root: Mapping[str, Any] | None) -> str | None:
    """The device that put itself on the roster first, or None while the roster is empty."""
    founders = [
        (at if isinstance(at := record.get("added_at"), int) else 0, device_id)
        for device_id, record in _devices(root or {}).items()
        if isinstance(record, dict) and record.get("added_by") == device_id
    ]
    return min(founders)[1] if founders else None


def check_authority(
    doc_id: str, doc: Doc, since: Sequence[bytes], known: Mapping[str, Any] | None,
    states: States | None = None,
) -> None:
    """RefusedChange unless every change of the directory `doc` after `since` was made by a
    device allowed to make it, judged by the directory as of that change's parents. `known`
    is this device's directory before these changes (None when it has none yet); `states`,
    the document's earlier states when the caller has them already."""
    known_devices = _devices(known or {})
    known_founder = founder(known)
    states = states or States(doc)
    for change, parents, _ in doc.changes(since):
        if change.actor == genesis_actor(doc_id):
            continue  # the shared first change: proven byte for byte (meshd.attest)
        old = states.at(parents)
        devices = _devices(old)
        if not devices:
            if known_founder is None or device_of(change.actor, known_devices) == known_founder:
                continue
            raise RefusedChange(f"a change of {doc_id} claims to found the mesh, which "
                                f"device {known_founder} founded")
        author = device_of(change.actor, devices)
        if author in admin_devices(old):
            continue
        for path in _changed(old, states.at([change.hash])):
            if not _ordinary(path, old):
                who = (devices.get(author or "") or {}).get("name") or change.actor[:8].hex()
                raise RefusedChange(f"device {who} is not an admin device: it may not change "
                                    f"{'/'.join(path)} of the directory")


def check_own_change(doc_id: str, doc: Doc, before: Sequence[bytes]) -> None:
    """Forbidden when this device may not make the directory change it just made: other
    devices would refuse it, so it must never be stored."""
    try:
        states = States(doc)
        check_authority(doc_id, doc, before, states.at(before) if before else None, states)
    except RefusedChange as exc:
        raise Forbidden(f"{exc.message}; make it on an admin device") from None


class States:
    """A document as it was at any of its heads, rebuilt from the changes they depend on (the
    binding's `fork_at` panics with MissingOps on some documents)."""

    def __init__(self, doc: Doc) -> None:
        self._changes = doc.changes()
        self._deps = {info.hash: deps for info, deps, _ in self._changes}

    def at(self, heads: Sequence[bytes]) -> dict[str, Any]:
        """The plain value of the document at `heads` (empty for no heads)."""
        wanted, todo = set(), list(heads)
        while todo:
            found = todo.pop()
            if found not in wanted:
                wanted.add(found)
                todo.extend(self._deps[found])
        data = b"".join(raw for info, _, raw in self._changes if info.hash in wanted)
        return Doc.load(data).to_dict() if data else {}


def _devices(root: Mapping[str, Any]) -> dict[str, Any]:
    found = root.get("devices")
    return found if isinstance(found, dict) else {}


def _ordinary(path: tuple[str, ...], old: Mapping[str, Any]) -> bool:
    """Whether a device that is not an admin device may change `path`."""
    if len(path) != 3:
        return False
    section, key, field = path
    record = (old.get(section) or {}).get(key)
    if not isinstance(record, dict):
        return False
    if section == "users":
        is_admin = ADMIN in (record.get("roles") or ())
        return field == "language" or (field == "pin_hash" and not is_admin)
    return (section == "devices" and field in ENROLMENT_FIELDS
            and isinstance(record.get("invite_expires_at"), int)
            and record.get("invite_used_at") is None)


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """(section,), (section, key) or (section, key, field) of every value that differs."""
    for section in sorted(old.keys() | new.keys()):
        before, after = old.get(section), new.get(section)
        if before == after:
            continue
        if not isinstance(before, dict) or not isinstance(after, dict):
            yield (section,)
            continue
        for key in sorted(before.keys() | after.keys()):
            was, now = before.get(key), after.get(key)
            if was == now:
                continue
            if not isinstance(was, dict) or not isinstance(now, dict):
                yield (section, key)
                continue
            for field in sorted(was.keys() | now.keys()):
                if was.get(field) != now.get(field):
                    yield (section, key, field)
