"""What a document from another device must look like before it is stored (DESIGN §3, §6).

`check_arrival(doc_id, before, after)` compares this device's copy (None for a new document)
with the copy a peer's changes would produce, and raises RefusedChange when the result breaks
the document's schema or its merge rules:

- the root has its kind's `type`, `id` and containers, as maps;
- chart entries, demographic writes, stock ledger lines and queue moves are never deleted or
  changed in place (an encounter may gain its `closed` stamp once);
- a chart's short patient number, once written, never changes;
- every demographic value is the value of one of its recorded writes (each write carries the
  heads its writer saw, so concurrent writes reach the review queue);
- a device's public key never changes (but once, when an invited device enrols its own key in
  place of its invite's) and a revocation is never undone.

Reading the whole document here also runs it through the adapter's panic guard, so a document
that would panic when read (a Counter patched in, say) is refused, never stored. Pure: no I/O.
Who may make a change (signatures, admin authority) is checked elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from typing import Any

from crdt_model.adapter import Doc, actor_for
from crdt_model.errors import CorruptDocument
from crdt_model.ids import CHART, DIRECTORY, FACILITY, QUEUE, parse_doc_id

# Per kind: the containers its root must hold, and those whose records are append-only.
CONTAINERS = {
    CHART: ("demographics", "demographic_writes", "entries"),
    FACILITY: ("settings", "drugs", "ledger"),
    QUEUE: ("entries", "moves"),
    DIRECTORY: ("users", "devices", "settings"),
}
APPEND_ONLY = {
    CHART: ("demographic_writes", "entries"),
    FACILITY: ("ledger",),
    QUEUE: ("moves",),
    DIRECTORY: (),
}
MAX_SUMMARY_KEYS = 20
MAX_SUMMARY_CHARS = 500
# Fields a record may gain after it is written (and never lose).
STAMPED_ONCE = ("closed",)


class RefusedChange(CorruptDocument):
    """A peer's changes would break a document's schema or merge rules; nothing is stored."""

    code = "refused_change"


def check_arrival(
    doc_id: str, before: Doc | None, after: Doc, actors: Collection[bytes] | None = None
) -> str:
    """RefusedChange unless `after` (our copy plus a peer's changes) keeps every rule. With
    `actors` (those of the new changes, proven by their signatures), every record the changes
    add must name one of them as its author (device and user), so history shows only proven
    authors.

    Returns what the changes did, in a few words for the audit log.
    """
    kind, _ = parse_doc_id(doc_id)
    new = after.to_dict()  # guarded: a document that panics when read is CorruptDocument
    _check_root(doc_id, kind, new)
    old = before.to_dict() if before is not None else {}
    if actors is not None:
        writers = set(actors)
        for section in APPEND_ONLY[kind]:
            _check_authors(section, old.get(section), new[section], writers)
    if before is None:
        return f"new {kind}"
    for section in APPEND_ONLY[kind]:
        _check_append_only(section, old.get(section), new[section])
    if kind == CHART:
        _check_demographics(new)
        if old.get("number") is not None and new.get("number") != old["number"]:
            raise RefusedChange(f"the patient number of {doc_id} was changed")
    if kind == DIRECTORY:
        _check_devices(old.get("devices"), new["devices"])
    return _summary(old, new)


def _summary(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """`section: +key(kind) ~key` for every top-level map the changes touched."""
    parts = []
    for section, records in new.items():
        before = old.get(section)
        if not isinstance(records, dict) or records == before:
            continue
        before = before if isinstance(before, dict) else {}
        added = [f"+{k}({v.get('kind')})" if isinstance(v, dict) and "kind" in v else f"+{k}"
                 for k, v in records.items() if k not in before]
        changed = [f"~{k}" for k, v in records.items() if k in before and before[k] != v]
        parts.append(f"{section}: {' '.join([*added, *changed][:MAX_SUMMARY_KEYS])}")
    return "; ".join(parts)[:MAX_SUMMARY_CHARS] or "no visible change"


def _check_root(doc_id: str, kind: str, root: Mapping[str, Any]) -> None:
    if root.get("type") != kind or root.get("id") != doc_id:
        raise RefusedChange(f"{doc_id} does not say it is this {kind} document")
    for section in CONTAINERS[kind]:
        if not isinstance(root.get(section), dict):
            raise RefusedChange(f"{doc_id} has no map of {section}")
    for section in APPEND_ONLY[kind]:
        for key, record in root[section].items():
            if not isinstance(record, dict):
                raise RefusedChange(f"{section}/{key} of {doc_id} is not a record")
    if kind == CHART:
        for key, entry in root["entries"].items():
            if not isinstance(entry.get("kind"), str) or not isinstance(entry.get("at"), int):
                raise RefusedChange(f"entry {key} of {doc_id} has no kind or time")


def _check_authors(
    section: str, old: object, new: Mapping[str, Any], actors: set[bytes]
) -> None:
    """Each record (or closing stamp) the changes added names one of `actors` as its author."""
    old = old if isinstance(old, dict) else {}
    for key, record in new.items():
        was = old.get(key)
        stamps = [record] if was is None else []
        closed = record.get("closed")
        if isinstance(closed, dict) and (not isinstance(was, dict) or was.get("closed") != closed):
            stamps.append(closed)
        for stamp in stamps:
            device, user = stamp.get("device"), stamp.get("user")
            if isinstance(device, str) and isinstance(user, str) and (
                    _actor(device, user) not in actors):
                raise RefusedChange(f"{section}/{key} names {device[:8]}/{user[:8]} as its author,"
                                    " who did not write it")


@functools.lru_cache(maxsize=4096)
def _actor(device: str, user: str) -> bytes:
    return actor_for(device, user)


def _check_append_only(section: str, old: object, new: Mapping[str, Any]) -> None:
    for key, record in (old if isinstance(old, dict) else {}).items():
        now = new.get(key)
        if now is None:
            raise RefusedChange(f"{section}/{key} was deleted")
        if not isinstance(record, dict) or not isinstance(now, dict):
            continue  # shapes were checked on the new side; an old damaged value may stay
        # A stamp is set once and never removed; two devices stamping at once merge to one of
        # their stamps, so a stamp may be replaced by another (never by nothing).
        stamped = {k: v for k, v in now.items() if k in STAMPED_ONCE and v is not None}
        if {**record, **stamped} != now:
            raise RefusedChange(f"{section}/{key} was changed in place")


def _check_demographics(root: Mapping[str, Any]) -> None:
    written: dict[str, list[Any]] = {}
    for write in root["demographic_writes"].values():
        written.setdefault(str(write.get("field")), []).append(write.get("value"))
    for name, value in root["demographics"].items():
        if value not in written.get(name, []):
            raise RefusedChange(f"demographic {name} was set without a recorded write")


def _enrolled(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """The one key change allowed: an invited device's own key replacing its pending invite's,
    once (crdt_model.directory.enrol_device); after that its key is fixed like any other."""
    return (isinstance(old.get("invite_expires_at"), int) and old.get("invite_used_at") is None
            and new.get("invite_used_at") is not None
            and new.get("invite_key") == old.get("public_key"))


def _check_devices(old: object, new: Mapping[str, Any]) -> None:
    for device_id, record in (old if isinstance(old, dict) else {}).items():
        now = new.get(device_id)
        if not isinstance(record, dict):
            continue
        if not isinstance(now, dict):
            raise RefusedChange(f"device {device_id} was removed from the roster")
        if now.get("public_key") != record.get("public_key") and not _enrolled(record, now):
            raise RefusedChange(f"the key of device {device_id} was replaced")
        if record.get("revoked_at") is not None and now.get("revoked_at") != record["revoked_at"]:
            raise RefusedChange(f"the revocation of device {device_id} was undone")
