"""From documents and projection rows to the UI's plain records (`ui.records`).

Documents store user and device ids; the UI shows names, so every conversion takes a `Names`
read from the mesh directory. The chart functions are pure views run on a chart document under
its lock (`chart_parts`), then turned into records outside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.chart_doc import (
    CANCEL,
    MERGE_LINK,
    RESOLUTION,
    VOID,
    chart_root,
    entries_of,
    order_key,
    status_of,
)
from ui.records import (
    Chart,
    ChartEntry,
    HistoryEntry,
    PatientSummary,
    ReviewCandidate,
    ReviewItem,
)

# Entry kinds that act on other entries: shown through their effect, not as entries.
_ACTING_KINDS = (VOID, RESOLUTION, CANCEL, MERGE_LINK)
_STAMP = ("kind", "device", "user", "at", "supersedes")
_SUMMARY_KEYS = ("label", "drug", "test", "substance", "text", "category", "value", "reason")
UNKNOWN = "—"


@dataclass(frozen=True, slots=True)
class Names:
    """User and device names of the mesh, by id."""

    users: Mapping[str, str]
    devices: Mapping[str, str]

    def user(self, user_id: object) -> str:
        """The user's name, or a short form of the id when the directory does not know it."""
        return self.users.get(str(user_id)) or (str(user_id)[:8] if user_id else UNKNOWN)

    def device(self, device_id: object) -> str:
        """The device's name, or a short form of the id."""
        return self.devices.get(str(device_id)) or (str(device_id)[:8] if device_id else UNKNOWN)


def chart_parts(doc: Doc) -> dict[str, Any]:
    """The chart's plain root (read under the document's lock)."""
    return chart_root(doc)


def patient_summary(patient_id: str, shown: Mapping[str, Any]) -> PatientSummary:
    """A PatientSummary from demographics (or a search row) of a patient."""

    def opt(key: str) -> str | None:
        value = shown.get(key)
        return None if value is None else str(value)

    return PatientSummary(
        id=patient_id, given_name=str(shown.get("given_name") or ""),
        family_name=str(shown.get("family_name") or ""), sex=str(shown.get("sex") or "unknown"),
        birth_date=str(shown.get("birth_date") or ""),
        birth_date_estimated=bool(shown.get("birth_date_estimated")),
        phone=opt("phone"), village=opt("village"), national_id=opt("national_id"),
    )


def to_chart(root: Mapping[str, Any], names: Names) -> Chart:
    """The UI's chart: demographics and every care entry, oldest first, voids applied."""
    entries = entries_of(root)
    status = status_of(entries)
    shown = root.get("demographics")
    demographics = shown if isinstance(shown, dict) else {}
    patient_id = str(root.get("patient_id") or str(root.get("id")).split(":")[-1])
    records = []
    for entry_id in sorted(entries, key=lambda k: order_key(k, entries[k])):
        entry = entries[entry_id]
        if entry.get("kind") in _ACTING_KINDS:
            continue
        reason = None
        if status.voided(entry_id):
            acting = entries.get(status.voided_by[entry_id][0], {})
            reason = str(acting.get("reason") or "resolved in review")
        elif entry_id in status.superseded_by:
            reason = "corrected"  # a superseded entry is struck through like a void
        records.append(ChartEntry(
            id=entry_id, kind=str(entry.get("kind")),
            data={k: v for k, v in entry.items() if k not in _STAMP},
            at_ms=order_key(entry_id, entry)[0], user_name=names.user(entry.get("user")),
            device_name=names.device(entry.get("device")), voided=reason is not None,
            void_reason=reason,
            supersedes=entry.get("supersedes") if isinstance(entry.get("supersedes"), str)
            else None,
        ))
    return Chart(patient_summary(patient_id, demographics), tuple(records))


def summary(kind: str, data: Mapping[str, Any]) -> str:
    """A one-line description of an entry, for history and review."""
    for key in _SUMMARY_KEYS:
        if key in data:
            return f"{kind}: {data[key]}"
    return kind


def history(root: Mapping[str, Any], names: Names) -> list[HistoryEntry]:
    """Every recorded change of a chart, oldest first: demographic writes (grouped by the act
    that wrote them), entries, and encounters being closed."""
    # (time, rank, id): at the same millisecond, demographics (registration) come first.
    found: list[tuple[int, int, str, HistoryEntry]] = []
    writes = root.get("demographic_writes")
    acts: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for write_id, write in (writes if isinstance(writes, dict) else {}).items():
        if isinstance(write, dict):
            acts.setdefault(write_id.rsplit(".", 1)[0], []).append((write_id, write))
    for act, fields in acts.items():
        first = fields[0][1]
        action = "registered" if act == "registration" else (
            "review" if first.get("resolves") else "demographics"
        )
        text = ", ".join(f"{w.get('field')}: {w.get('value')}" for _, w in sorted(fields))
        at = order_key(act, first)[0]
        found.append((at, 0, act, HistoryEntry(
            at, names.user(first.get("user")), names.device(first.get("device")), action, text,
        )))
    for entry_id, entry in entries_of(root).items():
        kind = str(entry.get("kind"))
        at = order_key(entry_id, entry)[0]
        found.append((at, 1, entry_id, HistoryEntry(
            at, names.user(entry.get("user")), names.device(entry.get("device")), kind,
            summary(kind, entry),
        )))
        closed = entry.get("closed")
        if kind == "encounter" and isinstance(closed, dict):
            at = order_key(entry_id, closed)[0]
            found.append((at, 1, entry_id + "/closed", HistoryEntry(
                at, names.user(closed.get("user")), names.device(closed.get("device")),
                "encounter_closed", "encounter closed",
            )))
    return [h for *_, h in sorted(found, key=lambda item: item[:3])]


def review_item(row: Mapping[str, Any], names: Names) -> ReviewItem:
    """A review item from its projection row (a demographic conflict or rival corrections)."""
    candidates = []
    for c in row.get("candidates", []):
        if "entry" in c:
            entry = c["entry"] if isinstance(c["entry"], dict) else {}
            value = summary(str(entry.get("kind")), entry)
        else:
            value = str(c.get("value"))
        at = c.get("at")
        candidates.append(ReviewCandidate(
            value, names.user(c.get("user")), names.device(c.get("device")),
            at if isinstance(at, int) else 0,
        ))
    name = f"{row.get('given_name', '')} {row.get('family_name', '')}".strip()
    return ReviewItem(
        id=str(row["id"]), patient_id=str(row["patient_id"]), patient_name=name,
        field=str(row.get("field") or row.get("entry_kind") or "entry"),
        candidates=tuple(candidates),
    )


def choice_for(row: Mapping[str, Any], names: Names, value: str) -> str | None:
    """The candidate `choice` (write or entry id) whose shown value is `value`."""
    item = review_item(row, names)
    for candidate, raw in zip(item.candidates, row.get("candidates", []), strict=False):
        if candidate.value == value:
            return str(raw.get("choice"))
    return None
