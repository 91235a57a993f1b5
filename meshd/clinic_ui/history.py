"""A chart's history as the UI shows it: every recorded change with who, when and where, and
the fields it wrote, so `ui.history` can say it in the reader's language. A void or a correction
carries the entry it replaced; a lab result names its test and a dispensation its medicine.
Rendering only: nothing here decides anything clinical.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crdt_model.chart_doc import CANCEL, RESOLUTION, VOID, entries_of, order_key
from meshd.clinic.base import Names
from meshd.clinic.clinical import summary
from ui.records import HistoryEntry

# Bookkeeping of an entry, not what it says.
_STAMP = ("kind", "device", "user", "at", "supersedes", "encounter_id", "closed", "facility",
          "ledger_id", "order_id", "prescription_id")


def _fields(entries: Mapping[str, Mapping[str, Any]], entry: Mapping[str, Any]) -> dict[str, Any]:
    """What an entry says, with the name of the test or medicine it answers."""
    shown = {k: v for k, v in entry.items() if k not in _STAMP}
    linked = entries.get(str(entry.get("order_id") or entry.get("prescription_id")))
    if linked is not None:
        shown.setdefault("test", linked.get("test"))
        shown.setdefault("drug", linked.get("drug"))
    return {k: v for k, v in shown.items() if v is not None}


def _replaced(entries: Mapping[str, Mapping[str, Any]], entry: Mapping[str, Any],
              ) -> tuple[str, dict[str, Any]] | None:
    """(kind, fields) of the entry a void, a correction or a review resolution replaced."""
    target_id = entry.get("target") if entry.get("kind") in (VOID, RESOLUTION, CANCEL) else (
        entry.get("supersedes"))
    target = entries.get(str(target_id)) if target_id else None
    if target is None:
        return None
    return str(target.get("kind")), _fields(entries, target)


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
        written = {str(w.get("field")): w.get("value") for _, w in sorted(fields)}
        at = order_key(act, first)[0]
        found.append((at, 0, act, HistoryEntry(
            at, names.user(first.get("user")), names.device(first.get("device")), action, text,
            written,
        )))
    entries = entries_of(root)
    for entry_id, entry in entries.items():
        kind = str(entry.get("kind"))
        at = order_key(entry_id, entry)[0]
        found.append((at, 1, entry_id, HistoryEntry(
            at, names.user(entry.get("user")), names.device(entry.get("device")), kind,
            summary(kind, entry), _fields(entries, entry), _replaced(entries, entry),
        )))
        closed = entry.get("closed")
        if kind == "encounter" and isinstance(closed, dict):
            at = order_key(entry_id, closed)[0]
            found.append((at, 1, entry_id + "/closed", HistoryEntry(
                at, names.user(closed.get("user")), names.device(closed.get("device")),
                "encounter_closed", "encounter closed",
            )))
    return [h for *_, h in sorted(found, key=lambda item: item[:3])]
