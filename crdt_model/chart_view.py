"""The chart as JSON for the UI and the API: entries grouped, statuses derived, nothing hidden.

Voided and superseded entries stay in the view, marked, because the chart is a legal record.
Entry kinds this version does not know (written by a newer one) are listed under `other`
as stored, never dropped and never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.attachments import ATTACHMENT
from crdt_model.chart_doc import (
    CANCEL,
    DISPENSATION,
    MERGE_LINK,
    RESOLUTION,
    VOID,
    Status,
    chart_root,
    entries_of,
    field_heads,
    field_writes,
    order_key,
    status_of,
)
from crdt_model.disclosures import DISCLOSURE
from crdt_model.review import review_items_of

# Kinds shown inside their encounter (when linked to one) as well as in their own list.
_IN_ENCOUNTER = {
    "triage": "triage", "note": "notes", "diagnosis": "diagnoses",
    "prescription": "prescriptions", "lab_order": "lab_orders",
    "consultation": "consultations", "referral": "referrals",
    DISCLOSURE: "disclosures",
}
_TOP_LISTS = {
    "allergy": "allergies", "encounter": "encounters", "triage": "triage", "note": "notes",
    "diagnosis": "diagnoses", "prescription": "prescriptions", "lab_order": "lab_orders",
    "lab_result": "lab_results", DISPENSATION: "dispensations", VOID: "voids",
    CANCEL: "cancellations", RESOLUTION: "resolutions", MERGE_LINK: "merge_links",
    ATTACHMENT: "attachments", "consultation": "consultations", "referral": "referrals",
    DISCLOSURE: "disclosures",
}


def _entry_view(entry_id: str, entry: Mapping[str, Any], status: Status) -> dict[str, Any]:
    view = {**entry, "id": entry_id, "status": status.state(entry_id)}
    if entry_id in status.voided_by:
        view["voided_by"] = status.voided_by[entry_id]
    if entry_id in status.superseded_by:
        view["superseded_by"] = status.superseded_by[entry_id]
    return view


def _prescription_status(entry_id: str, status: Status) -> str:
    if entry_id in status.cancelled_by:
        return "cancelled"
    return "dispensed" if entry_id in status.dispensed_by else "active"


def _written_by(root: Mapping[str, Any], shown: Mapping[str, Any]) -> dict[str, list[Any]]:
    """field -> the head writes of that field (who, when, value): two or more mean a conflict."""
    result = {}
    for name in sorted(shown):
        writes = field_writes(root, name)
        result[name] = [
            {"write_id": w, **{k: writes[w].get(k) for k in ("value", "device", "user", "at")}}
            for w in field_heads(root, name)
        ]
    return result


def chart_view(doc: Doc) -> dict[str, Any]:
    """The JSON-ready chart: id, number, schema, demographics, grouped entries, review items."""
    root = chart_root(doc)
    entries = entries_of(root)
    status = status_of(entries)
    views = {
        k: _entry_view(k, e, status)
        for k, e in sorted(entries.items(), key=lambda item: order_key(*item))
    }
    lists: dict[str, list[dict[str, Any]]] = {name: [] for name in _TOP_LISTS.values()}
    lists["other"] = []
    for entry_id, view in views.items():
        kind = view.get("kind")
        lists[_TOP_LISTS.get(kind, "other") if isinstance(kind, str) else "other"].append(view)
        if kind == "prescription":
            view["prescription_status"] = _prescription_status(entry_id, status)
            view["dispensations"] = [views[d] for d in status.dispensed_by.get(entry_id, [])]
            view["cancellations"] = [views[c] for c in status.cancelled_by.get(entry_id, [])]
        elif kind == "lab_order":
            view["results"] = [
                v for v in views.values()
                if v.get("kind") == "lab_result" and v.get("order_id") == entry_id
            ]
        elif kind == "encounter":
            view.update({name: [] for name in _IN_ENCOUNTER.values()})
            view["open"] = view.get("closed") is None
    for view in views.values():
        encounter = views.get(str(view.get("encounter_id")))
        group = _IN_ENCOUNTER.get(str(view.get("kind")))
        if encounter is not None and encounter.get("kind") == "encounter" and group:
            encounter[group].append(view)
    found = root.get("demographics")
    demographics = found if isinstance(found, dict) else {}
    links = {
        rel: [str(v.get("other")) for v in lists["merge_links"]
              if v.get("relation") == rel and v["status"] == "live"]
        for rel in ("merged_into", "merged_from")
    }
    return {
        "id": root.get("patient_id") or str(root.get("id")).split(":")[-1],
        "doc_id": root.get("id"),
        "number": root.get("number") if isinstance(root.get("number"), str) else None,
        "schema": root.get("schema"),
        "demographics": demographics,
        "demographics_written": _written_by(root, demographics),
        **lists,
        "merged_into": links["merged_into"][-1] if links["merged_into"] else None,
        "merged_from": links["merged_from"],
        "review": review_items_of(root),
    }
