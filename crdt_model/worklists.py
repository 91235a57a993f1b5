"""Worklists and report facts derived from one chart: what the lab, the pharmacy and reports need.

Pure functions of a chart document, so the store can keep their rows in projection tables that
are replaced in the same transaction as the chart (no page view scans every chart). Voided,
superseded and cancelled entries never appear; an entry linked to an encounter counts for that
encounter's visit, an unlinked one for the visit of the day it was written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.allergies import live_allergies
from crdt_model.chart_doc import DISPENSATION, Status, chart_root, entries_of, order_key, status_of

DayOf = Callable[[int], str]
"""Epoch milliseconds -> the clinic's local day YYYY-MM-DD (the caller knows the time zone)."""

# Stations a visit can reach, in the order a patient passes them (queue.STATIONS minus done).
VISIT_STATIONS = ("registration", "triage", "consultation", "lab", "pharmacy")
_CONSULTATION_KINDS = ("diagnosis", "note", "prescription", "lab_order", "consultation", "referral")


def _live(entries: Mapping[str, Mapping[str, Any]], status: Status, kind: str) -> list[str]:
    """Ids of the live entries of `kind`, oldest first."""
    found = [k for k, e in entries.items() if e.get("kind") == kind and status.live(k)]
    return sorted(found, key=lambda k: order_key(k, entries[k]))


def _at(entry: Mapping[str, Any]) -> int:
    return order_key("", entry)[0]


def pending_lab_orders(doc: Doc) -> list[dict[str, Any]]:
    """Live lab orders without a live result, oldest first: order_id, test, code, at_ms, …"""
    entries = entries_of(chart_root(doc))
    status = status_of(entries)
    answered = {entries[k].get("order_id") for k in _live(entries, status, "lab_result")}
    return [
        {
            "order_id": k, "test": entries[k].get("test"), "code": entries[k].get("code"),
            "at_ms": _at(entries[k]), "ordered_by": entries[k].get("user"),
            "encounter_id": entries[k].get("encounter_id"),
        }
        for k in _live(entries, status, "lab_order") if k not in answered
    ]


def _dispensed(entries: Mapping[str, Mapping[str, Any]], ids: list[str]) -> int:
    total = 0
    for k in ids:
        quantity = entries[k].get("quantity")
        total += quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 0
    return total


def pending_prescriptions(doc: Doc) -> list[dict[str, Any]]:
    """Live, uncancelled prescriptions not yet fully dispensed, oldest first.

    Without a quantity, any dispensation completes the prescription.
    """
    entries = entries_of(chart_root(doc))
    status = status_of(entries)
    allergies = [str(a.get("substance")) for a in live_allergies(doc)]
    rows = []
    for k in _live(entries, status, "prescription"):
        if k in status.cancelled_by:
            continue
        entry = entries[k]
        given = _dispensed(entries, status.dispensed_by.get(k, []))
        wanted = entry.get("quantity")
        if status.dispensed_by.get(k) and (not isinstance(wanted, int) or given >= wanted):
            continue
        rows.append({
            **{f: entry.get(f) for f in (
                "drug", "drug_id", "dose", "dose_unit", "route", "frequency", "duration_days",
                "quantity", "encounter_id", "instructions", "override_reason",
            )},
            "allergies": allergies,
            "prescription_id": k, "dispensed": given, "at_ms": _at(entry),
            "prescribed_by": entry.get("user"),
        })
    return rows


def age_on(birth_date: object, day: str) -> int | None:
    """Whole years between a birth date and `day`, or None when the birth date is unusable."""
    try:
        born, then = date.fromisoformat(str(birth_date)), date.fromisoformat(day)
    except ValueError:
        return None
    years = then.year - born.year - ((then.month, then.day) < (born.month, born.day))
    return years if years >= 0 else None


def _visit_of(
    entry_id: str, entries: Mapping[str, Mapping[str, Any]], encounter_day: Mapping[str, str],
    day_of: DayOf,
) -> str:
    """The day of the visit an entry belongs to: its encounter's, else the day it was written."""
    entry = entries[entry_id]
    for link in ("encounter_id", "order_id", "prescription_id"):
        target = entry.get(link)
        if isinstance(target, str) and target in entries and link != "encounter_id":
            return _visit_of(target, entries, encounter_day, day_of)
        if isinstance(target, str) and target in encounter_day:
            return encounter_day[target]
    return day_of(_at(entry))


def _station(kind: object) -> str | None:
    if kind == "triage":
        return "triage"
    if kind in _CONSULTATION_KINDS:
        return "consultation"
    if kind == "lab_result":
        return "lab"
    return "pharmacy" if kind == DISPENSATION else None


def visit_facts(doc: Doc, day_of: DayOf) -> list[dict[str, Any]]:
    """One fact per day with a live encounter: day, encounter_id (the day's latest), open,
    sex, age_years, stations reached, diagnosis codes, latest triage category, the tests with
    a critical result."""
    return visits_of(chart_root(doc), day_of)


def visits_of(root: Mapping[str, Any], day_of: DayOf) -> list[dict[str, Any]]:
    """`visit_facts` of a chart already read as plain values (exports read each chart once)."""
    entries = entries_of(root)
    status = status_of(entries)
    shown = root.get("demographics")
    demographics = shown if isinstance(shown, dict) else {}
    encounter_day = {k: day_of(_at(entries[k])) for k in _live(entries, status, "encounter")}
    visits: dict[str, dict[str, Any]] = {}
    for encounter_id, day in encounter_day.items():  # oldest first: the latest one wins
        visit = visits.setdefault(day, {
            "day": day, "sex": demographics.get("sex") or "unknown",
            "age_years": age_on(demographics.get("birth_date"), day),
            "stations": {"registration"}, "diagnosis_codes": [], "triage_category": None,
            "critical_results": [],
        })
        visit["encounter_id"] = encounter_id
        visit["open"] = entries[encounter_id].get("closed") is None
    ordered = sorted(entries, key=lambda k: order_key(k, entries[k]))
    for entry_id in ordered:
        entry = entries[entry_id]
        station = _station(entry.get("kind"))
        if station is None or not status.live(entry_id):
            continue
        found = visits.get(_visit_of(entry_id, entries, encounter_day, day_of))
        if found is None:
            continue
        visit = found
        visit["stations"].add(station)
        if entry.get("kind") == "triage":
            visit["triage_category"] = entry.get("category")
        code = entry.get("code")
        if entry.get("kind") == "diagnosis" and code not in visit["diagnosis_codes"]:
            visit["diagnosis_codes"].append(code)
        if entry.get("kind") == "lab_result" and entry.get("interpretation") == "critical":
            order = entries.get(str(entry.get("order_id"))) or {}
            visit["critical_results"].append(str(order.get("test") or "?"))
    for visit in visits.values():
        visit["stations"] = [s for s in VISIT_STATIONS if s in visit["stations"]]
    return [visits[day] for day in sorted(visits)]
