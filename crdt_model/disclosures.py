"""Disclosures: a chart records which other clinic it was handed to through the relay.

When clinic B pulls clinic A's chart through the relay, the relay appends a `disclosure`
entry to the chart in A's space (`{kind: "disclosure", action, clinic}`, written by the
relay's device). It syncs down to A's devices like any change; each device that receives it
writes its own `relay_pulled_by` audit row (meshd.remote_changes), so the clinic the chart
came from holds the audit of the pull on its own devices, not only on the relay. Entries are
append-only, like every chart entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.chart_doc import ENTRIES, append_entry, require_chart
from crdt_model.context import Author
from crdt_model.validate import text

DISCLOSURE = "disclosure"
ACTIONS = ("relay_pull",)


def record_disclosure(doc: Doc, entry_id: str, action: str, clinic: str,
                      author: Author) -> list[bytes]:
    """Append that the chart was handed to `clinic` (its name) by `action`."""
    require_chart(doc)
    if action not in ACTIONS:
        raise ValueError(f"unknown disclosure action {action!r}")
    fields = {"action": action, "clinic": text(clinic, "clinic", max_chars=200)}
    return append_entry(doc, entry_id, DISCLOSURE, fields, author)


def new_disclosures(before: Doc | None, after: Doc) -> list[Mapping[str, Any]]:
    """The disclosure entries `after` holds and `before` did not, oldest first. Reads
    `after.to_dict()` (shared within `shared_reads`), and `before` only when `after` holds a
    disclosure at all."""
    entries = after.to_dict().get("entries")
    if not isinstance(entries, dict):
        return []
    found = {k: e for k, e in entries.items()
             if isinstance(e, dict) and e.get("kind") == DISCLOSURE}
    if found and before is not None:
        old = before.get(ENTRIES)
        known = old if isinstance(old, dict) else {}
        found = {k: e for k, e in found.items() if k not in known}
    return sorted(found.values(), key=lambda e: e["at"] if isinstance(e.get("at"), int) else 0)
