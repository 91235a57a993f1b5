"""From documents and projection rows to the UI's plain records (`ui.records`).

Documents store user and device ids; the UI shows names, so every conversion takes a `Names`
read from the mesh directory (`meshd.clinic.base.Names`). Rendering only: nothing here decides
anything clinical.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crdt_model.chart_doc import (
    CANCEL,
    MERGE_LINK,
    RESOLUTION,
    VOID,
    entries_of,
    merged_into,
    order_key,
    status_of,
)
from meshd.clinic.base import Names
from meshd.clinic.clinical import shown_value
from meshd.clinic.flow import Waiting
from meshd.clinic.pharmacy import Stock
from ui.records import (
    Chart,
    ChartEntry,
    PatientSummary,
    PendingLabOrder,
    PendingPrescription,
    QueueEntry,
    ReviewCandidate,
    ReviewItem,
    StockLevel,
    User,
    VisitFact,
)

# Entry kinds that act on other entries: shown through their effect, not as entries.
_ACTING_KINDS = (VOID, RESOLUTION, CANCEL, MERGE_LINK)
_STAMP = ("kind", "device", "user", "at", "supersedes")


def patient_summary(patient_id: str, shown: Mapping[str, Any]) -> PatientSummary:
    """A PatientSummary from demographics (or a search row) of a patient."""

    def opt(key: str) -> str | None:
        value = shown.get(key)
        return None if value is None else str(value)

    found = shown.get("next_of_kin")
    kin = {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else None

    return PatientSummary(
        id=patient_id, given_name=str(shown.get("given_name") or ""),
        family_name=str(shown.get("family_name") or ""), sex=str(shown.get("sex") or "unknown"),
        birth_date=str(shown.get("birth_date") or ""),
        birth_date_estimated=bool(shown.get("birth_date_estimated")),
        phone=opt("phone"), village=opt("village"), national_id=opt("national_id"),
        number=opt("number"), clinic_id=opt("clinic_id"), next_of_kin=kin,
        merged_into=(opt("merged_into") or "").split(":")[-1] or None,  # a chart doc id
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
    found = {**demographics, "number": root.get("number"), "merged_into": merged_into(dict(root))}
    return Chart(patient_summary(patient_id, found), tuple(records))


def review_item(row: Mapping[str, Any], names: Names) -> ReviewItem:
    """A review item from its projection row (a demographic conflict or rival corrections)."""
    candidates = []
    for c in row.get("candidates", []):
        at = c.get("at")
        candidates.append(ReviewCandidate(
            shown_value(c), names.user(c.get("user")), names.device(c.get("device")),
            at if isinstance(at, int) else 0,
        ))
    name = f"{row.get('given_name', '')} {row.get('family_name', '')}".strip()
    return ReviewItem(
        id=str(row["id"]), patient_id=str(row["patient_id"]), patient_name=name,
        field=str(row.get("field") or row.get("entry_kind") or "entry"),
        candidates=tuple(candidates),
    )


def _name(row: Mapping[str, Any]) -> str:
    return f"{row.get('given_name', '')} {row.get('family_name', '')}".strip()


def user_record(user_id: str, record: Mapping[str, Any]) -> User:
    """A User from its directory record."""
    language = record.get("language")
    return User(
        id=user_id, name=str(record.get("name")), roles=tuple(record.get("roles") or ()),
        pin_hash=str(record.get("pin_hash") or ""),
        language=language if isinstance(language, str) else None,
        active=not record.get("disabled"),
    )


def queue_entry(waiting: Waiting) -> QueueEntry:
    """A QueueEntry from the core's view of a waiting patient."""
    return QueueEntry(
        patient_id=waiting.patient_id, given_name=waiting.given_name,
        family_name=waiting.family_name, station=waiting.station, since_ms=waiting.since_ms,
        arrived_ms=waiting.arrived_ms, encounter_id=waiting.encounter_id,
        triage_category=waiting.triage_category, critical_results=waiting.critical_results,
    )


def lab_order(row: Mapping[str, Any], names: Names) -> PendingLabOrder:
    """A PendingLabOrder from its worklist row."""
    return PendingLabOrder(
        patient_id=str(row["patient_id"]), patient_name=_name(row),
        order_id=str(row["order_id"]), test=str(row["test"]), at_ms=int(row["at_ms"]),
        ordered_by=names.user(row.get("ordered_by")), code=str(row.get("code") or ""),
    )


def prescription(row: Mapping[str, Any], names: Names) -> PendingPrescription:
    """A PendingPrescription from its worklist row."""
    allergies = row.get("allergies")
    return PendingPrescription(
        patient_id=str(row["patient_id"]), patient_name=_name(row),
        prescription_id=str(row["prescription_id"]), drug=str(row["drug"]),
        drug_id=row.get("drug_id"), dose=float(row["dose"]), dose_unit=str(row["dose_unit"]),
        route=str(row["route"]), frequency=str(row["frequency"]),
        duration_days=int(row["duration_days"]), quantity=row.get("quantity"),
        dispensed=int(row.get("dispensed") or 0), at_ms=int(row["at_ms"]),
        prescribed_by=names.user(row.get("prescribed_by")),
        instructions=str(row.get("instructions") or ""),
        override_reason=str(row.get("override_reason") or ""),
        allergies=tuple(map(str, allergies)) if isinstance(allergies, list) else None,
    )


def stock_level(stock: Stock) -> StockLevel:
    """A StockLevel from the core's stock of a drug."""
    return StockLevel(drug_id=stock.drug_id, name=stock.name, unit=stock.unit,
                      level=stock.level, reorder_level=stock.reorder_level)


def visit_fact(row: Mapping[str, Any]) -> VisitFact:
    """A VisitFact from its report row."""
    return VisitFact(
        day=str(row["day"]), patient_id=str(row["patient_id"]), sex=str(row["sex"]),
        age_years=row.get("age_years"), stations=tuple(row.get("stations") or ()),
        diagnosis_codes=tuple(row.get("diagnosis_codes") or ()),
    )
