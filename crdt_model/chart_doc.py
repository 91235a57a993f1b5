"""The shape of a `chart:<uuid>` document and the reads every chart module shares.

Root: `schema`, `type`, `id`, `demographics` (field -> value, last writer wins),
`demographic_writes` (write_id -> {field, value, saw, device, user, at}) and `entries`
(entry_id -> {kind, …, device, user, at, supersedes?}). Every container is created in the
change that registers the patient (the container trap of docs/ARCHITECTURE.md §3). Writers
only ever put the keys they own, so fields and entry kinds added by a newer schema survive an
older device's edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crdt_model.adapter import Doc, Tx
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound, ValidationError
from crdt_model.ids import CHART, check_entry_id

ENTRIES = ("entries",)
WRITES = ("demographic_writes",)
DEMOGRAPHICS = ("demographics",)

# Entry kinds that act on other entries rather than record care.
VOID = "void"
CANCEL = "prescription_cancel"
RESOLUTION = "review_resolution"
DISPENSATION = "dispensation"
MERGE_LINK = "merge_link"


def chart_root(doc: Doc) -> dict[str, Any]:
    """The whole chart as plain values; NotFound if `doc` is not a chart."""
    root = doc.to_dict()
    if root.get("type") != CHART or not isinstance(root.get("entries"), dict):
        raise NotFound("this document is not a patient chart", field="doc")
    return root


def require_chart(doc: Doc) -> None:
    """NotFound unless `doc` is a patient chart (reads one key, not the whole document)."""
    if doc.get(("type",)) != CHART:
        raise NotFound("this document is not a patient chart", field="doc")


def entries_of(root: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """entry_id -> entry, skipping anything that is not a map (a damaged or foreign value)."""
    raw = root.get("entries")
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, dict)}


def order_key(entry_id: str, entry: Mapping[str, Any]) -> tuple[int, str]:
    """Sort key shared by every device: time written, then id to break ties."""
    at = entry.get("at")
    return (at if isinstance(at, int) and not isinstance(at, bool) else 0, entry_id)


@dataclass
class Status:
    """Which entries are voided, superseded, cancelled or dispensed, derived from the entries."""

    voided_by: dict[str, list[str]] = field(default_factory=dict)
    superseded_by: dict[str, list[str]] = field(default_factory=dict)
    cancelled_by: dict[str, list[str]] = field(default_factory=dict)
    dispensed_by: dict[str, list[str]] = field(default_factory=dict)
    corrections: dict[str, list[str]] = field(default_factory=dict)

    def voided(self, entry_id: str) -> bool:
        """Whether a void or a review resolution took `entry_id` out of the chart."""
        return entry_id in self.voided_by

    def live(self, entry_id: str) -> bool:
        """Neither voided nor superseded by a live correction."""
        return entry_id not in self.voided_by and entry_id not in self.superseded_by

    def state(self, entry_id: str) -> str:
        """`voided`, `superseded` or `live`."""
        if entry_id in self.voided_by:
            return "voided"
        return "superseded" if entry_id in self.superseded_by else "live"


def _add(index: dict[str, list[str]], target: object, entry_id: str) -> None:
    if isinstance(target, str):
        index.setdefault(target, []).append(entry_id)


def status_of(entries: Mapping[str, Mapping[str, Any]]) -> Status:
    """Derive every entry's status; the same entries give the same answer on every device."""
    status = Status()
    ordered = sorted(entries.items(), key=lambda item: order_key(*item))
    for entry_id, entry in ordered:
        kind = entry.get("kind")
        if kind == VOID:
            _add(status.voided_by, entry.get("target"), entry_id)
        elif kind == RESOLUTION:
            rejected = entry.get("rejected")
            for target in rejected if isinstance(rejected, list) else []:
                _add(status.voided_by, target, entry_id)
    for entry_id, entry in ordered:
        if status.voided(entry_id):
            continue
        kind = entry.get("kind")
        if kind == CANCEL:
            _add(status.cancelled_by, entry.get("target"), entry_id)
        elif kind == DISPENSATION:
            _add(status.dispensed_by, entry.get("prescription_id"), entry_id)
        if isinstance(entry.get("supersedes"), str):
            _add(status.superseded_by, entry["supersedes"], entry_id)
            _add(status.corrections, entry["supersedes"], entry_id)
    return status


def require_entry(
    entries: Mapping[str, Mapping[str, Any]], entry_id: object, field: str, kinds: Iterable[str]
) -> Mapping[str, Any]:
    """The entry `entry_id` of one of `kinds`; NotFound naming `field` otherwise."""
    check_entry_id(entry_id, field)
    assert isinstance(entry_id, str)
    entry = entries.get(entry_id)
    allowed = tuple(kinds)
    if entry is None or entry.get("kind") not in allowed:
        raise NotFound(f"no {' or '.join(allowed)} {entry_id!r} in this chart", field=field)
    return entry


def require_live(status: Status, entry_id: str, field: str) -> None:
    """ConflictError if `entry_id` was voided or superseded."""
    if not status.live(entry_id):
        raise ConflictError(f"{field} {entry_id!r} is {status.state(entry_id)}", field=field)


def append_entry(
    doc: Doc, entry_id: str, kind: str, fields: Mapping[str, Any], author: Author
) -> list[bytes]:
    """Add one new entry written by `author`; ConflictError if `entry_id` is taken."""
    check_entry_id(entry_id)
    if doc.get((*ENTRIES, entry_id)) is not None:
        raise ConflictError(f"entry {entry_id!r} already exists", field="entry_id")
    if "kind" in fields or any(k in fields for k in author.stamp()):
        raise ValidationError("entry fields can't override kind or authorship", field="data")
    body = {"kind": kind, **fields, **author.stamp()}
    doc.set_actor(author.actor)

    def build(tx: Tx) -> None:
        tx.put(ENTRIES, entry_id, body)

    return doc.change(build)


def field_writes(root: Mapping[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """write_id -> write of the demographic field `name`."""
    raw = root.get("demographic_writes")
    if not isinstance(raw, dict):
        return {}
    return {
        k: v for k, v in raw.items() if isinstance(v, dict) and v.get("field") == name
    }


def field_heads(root: Mapping[str, Any], name: str) -> list[str]:
    """The writes of field `name` that no other write saw: more than one means a conflict."""
    writes = field_writes(root, name)
    seen: set[str] = set()
    for write in writes.values():
        saw = write.get("saw")
        seen.update(s for s in (saw if isinstance(saw, list) else []) if isinstance(s, str))
    heads = [w for w in writes if w not in seen]
    return sorted(heads, key=lambda w: order_key(w, writes[w]))


def put_demographic(
    tx: Tx, root: Mapping[str, Any], name: str, value: Any, write_id: str,
    author: Author, extra: Mapping[str, Any] | None = None,
) -> None:
    """Set one demographic field and record the write with the heads its writer saw."""
    tx.put(DEMOGRAPHICS, name, value)
    record = {
        "field": name, "value": value, "saw": field_heads(root, name),
        **(extra or {}), **author.stamp(),
    }
    tx.put(WRITES, write_id, record)


def merge_links(root: dict[str, Any], relation: str) -> list[str]:
    """Doc ids this chart is linked to by live `relation` links, oldest first."""
    entries = entries_of(root)
    status = status_of(entries)
    links = [
        (order_key(k, e), e.get("other")) for k, e in entries.items()
        if e.get("kind") == MERGE_LINK and e.get("relation") == relation and status.live(k)
    ]
    return [str(other) for _, other in sorted(links) if isinstance(other, str)]


def merged_into(root: dict[str, Any]) -> str | None:
    """The survivor this chart was merged into (the latest link wins if two were made apart)."""
    links = merge_links(root, "merged_into")
    return links[-1] if links else None
