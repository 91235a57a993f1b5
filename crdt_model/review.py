"""The review queue: conflicts a person must settle, derived from the chart itself.

Nothing is stored about an open item, so every device that holds the same changes computes the
same list with the same item ids:
(a) a critical demographic field (given_name, family_name, birth_date, sex) whose writes have
    more than one head — two devices wrote it without seeing each other's write;
(b) two or more live corrections of the same entry (e.g. an allergy corrected on two tablets).
Resolving records who chose what: (a) a new write that saw every head, (b) a
`review_resolution` entry that takes the corrections not chosen out of the chart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from crdt_model.adapter import Doc, Tx
from crdt_model.chart_doc import (
    RESOLUTION,
    append_entry,
    chart_root,
    entries_of,
    field_heads,
    field_writes,
    order_key,
    put_demographic,
    status_of,
)
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound, ValidationError
from crdt_model.ids import check_entry_id
from crdt_model.validate import CRITICAL_FIELDS

DEMOGRAPHIC_CONFLICT = "demographic_conflict"
CONCURRENT_CORRECTIONS = "concurrent_corrections"


def _item_id(prefix: str, subject: str, members: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()[:16]
    return f"{prefix}:{subject}:{digest}"


def _who(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("device", "user", "at")}


def _demographic_items(root: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = []
    for name in CRITICAL_FIELDS:
        heads = field_heads(root, name)
        if len(heads) < 2:
            continue
        writes = field_writes(root, name)
        items.append({
            "id": _item_id("demographics", name, heads),
            "kind": DEMOGRAPHIC_CONFLICT,
            "field": name,
            "candidates": [
                {"choice": w, "value": writes[w].get("value"), **_who(writes[w])} for w in heads
            ],
        })
    return items


def _correction_items(root: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = entries_of(root)
    status = status_of(entries)
    items = []
    for target, corrections in sorted(status.corrections.items()):
        if len(corrections) < 2:
            continue
        ordered = sorted(corrections, key=lambda c: order_key(c, entries[c]))
        items.append({
            "id": _item_id("corrections", target, ordered),
            "kind": CONCURRENT_CORRECTIONS,
            "target": target,
            "entry_kind": entries[target].get("kind") if target in entries else None,
            "candidates": [
                {"choice": c, "entry": dict(entries[c]), **_who(entries[c])} for c in ordered
            ],
        })
    return items


def review_items_of(root: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Open review items of a chart's plain root (see module docstring), in a stable order."""
    return _demographic_items(root) + _correction_items(root)


def review_items(doc: Doc) -> list[dict[str, Any]]:
    """Open review items of a chart document."""
    return review_items_of(chart_root(doc))


def resolve_review(
    doc: Doc, item_id: str, choice: str, author: Author, write_id: str
) -> list[bytes]:
    """Settle an open item by picking one candidate's `choice`; records who chose and when."""
    check_entry_id(write_id, "write_id")
    root = chart_root(doc)
    item = next((i for i in review_items_of(root) if i["id"] == item_id), None)
    if item is None:
        raise NotFound("this review item is not open (already resolved?)", field="item_id")
    choices = [c["choice"] for c in item["candidates"]]
    if choice not in choices:
        raise ValidationError(f"choice must be one of: {', '.join(choices)}", field="choice")
    if item["kind"] == CONCURRENT_CORRECTIONS:
        fields = {
            "item": item_id, "target": item["target"], "keep": choice,
            "rejected": [c for c in choices if c != choice],
        }
        return append_entry(doc, write_id, RESOLUTION, fields, author)
    name = item["field"]
    key = f"{write_id}.{name}"  # the same write-id scheme as update_demographics
    writes = root.get("demographic_writes")
    if isinstance(writes, dict) and key in writes:
        raise ConflictError(f"write {write_id!r} already exists", field="write_id")
    value = field_writes(root, name)[choice].get("value")
    doc.set_actor(author.actor)

    def build(tx: Tx) -> None:
        # The new write saw every head, so the field has a single head again everywhere.
        put_demographic(tx, root, name, value, key, author, {"resolves": item_id})

    return doc.change(build)
