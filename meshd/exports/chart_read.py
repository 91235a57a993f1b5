"""A chart document's plain dict, read once for every export format.

Pure: it takes what `Doc.to_dict()` returns and a function from epoch milliseconds to the
clinic's local time. Entry statuses come from `crdt_model.chart_doc`, so an export and the
chart view never disagree about what is voided, superseded, cancelled or dispensed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crdt_model.chart_doc import Status, entries_of, order_key, status_of
from crdt_model.ids import CHART

Local = Callable[[int], datetime]
"""Epoch milliseconds -> the aware local datetime of the clinic (the shell knows the zone)."""


@dataclass(frozen=True, slots=True)
class Chart:
    """One patient chart as exports see it: demographics and entries with derived status."""

    root: Mapping[str, Any]
    doc_id: str
    patient_id: str
    demographics: Mapping[str, Any]
    entries: Mapping[str, Mapping[str, Any]]
    status: Status
    ordered: tuple[str, ...]
    local: Local

    def of_kind(self, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
        """(entry id, entry) of every entry of `kind`, oldest first, whatever its status."""
        return [(k, self.entries[k]) for k in self.ordered if self.entries[k].get("kind") == kind]

    def state(self, entry_id: str) -> str:
        """`live`, `voided` or `superseded`."""
        return self.status.state(entry_id)

    def linked(self, entry: Mapping[str, Any], key: str, kind: str) -> str | None:
        """The id in `entry[key]` when it names an entry of `kind` in this chart."""
        target = entry.get(key)
        if isinstance(target, str) and self.entries.get(target, {}).get("kind") == kind:
            return target
        return None

    def moment(self, at_ms: int) -> str:
        """An instant as FHIR dateTime text with the clinic's UTC offset."""
        return self.local(at_ms).isoformat(timespec="seconds")

    def day(self, at_ms: int) -> str:
        """The clinic's local day YYYY-MM-DD of an instant."""
        return self.local(at_ms).date().isoformat()


def at_ms(entry: Mapping[str, Any]) -> int:
    """When an entry (or a stamp) was written, epoch ms; 0 when unknown."""
    return order_key("", entry)[0]


def read_chart(root: Mapping[str, Any], local: Local) -> Chart | None:
    """The chart in `root`, or None when `root` is not a patient chart."""
    if root.get("type") != CHART or not isinstance(root.get("entries"), dict):
        return None
    entries = entries_of(root)
    doc_id = str(root.get("id"))
    shown = root.get("demographics")
    return Chart(
        root=root,
        doc_id=doc_id,
        patient_id=str(root.get("patient_id") or doc_id.split(":")[-1]),
        demographics=shown if isinstance(shown, dict) else {},
        entries=entries,
        status=status_of(entries),
        ordered=tuple(sorted(entries, key=lambda k: order_key(k, entries[k]))),
        local=local,
    )


def last_written(root: Mapping[str, Any]) -> int:
    """The latest write on a chart (an entry, a closing stamp, a demographic), epoch ms."""
    latest = 0
    for group in ("entries", "demographic_writes"):
        found = root.get(group)
        for item in (found.values() if isinstance(found, dict) else ()):
            if isinstance(item, dict):
                latest = max(latest, at_ms(item))
                closed = item.get("closed")
                latest = max(latest, at_ms(closed) if isinstance(closed, dict) else 0)
    return latest


def referral_days(chart: Chart) -> set[str]:
    """Days of the visits whose live triage records the ETAT `referral` sign (referred in)."""
    days = set()
    for entry_id, entry in chart.of_kind("triage"):
        signs = entry.get("danger_signs")
        if chart.state(entry_id) != "live" or "referral" not in (signs or ()):
            continue
        encounter = chart.linked(entry, "encounter_id", "encounter")
        days.add(chart.day(at_ms(chart.entries[encounter] if encounter else entry)))
    return days
