"""The in-memory fake's worklists: open lab orders and prescriptions not fully dispensed,
computed from one patient's entries (the daemon keeps them as projections instead)."""

from __future__ import annotations

from collections.abc import Iterable

from ui.records import ChartEntry, PatientSummary, PendingLabOrder, PendingPrescription


def open_lab_orders(patient: PatientSummary,
                    entries: Iterable[ChartEntry]) -> list[PendingLabOrder]:
    """The patient's lab orders that have no result and are not voided."""
    rows = list(entries)
    done = {e.data["order_id"] for e in rows if e.kind == "lab_result"}
    return [
        PendingLabOrder(patient.id, patient.full_name, e.id, e.data["test"], e.at_ms, e.user_name)
        for e in rows
        if e.kind == "lab_order" and not e.voided and e.id not in done
    ]


def open_prescriptions(patient: PatientSummary,
                       entries: Iterable[ChartEntry]) -> list[PendingPrescription]:
    """The patient's prescriptions with less dispensed than prescribed (or nothing yet)."""
    rows = list(entries)
    given: dict[str, int] = {}
    for e in rows:
        if e.kind == "dispensation" and not e.voided:
            key = e.data["prescription_id"]
            given[key] = given.get(key, 0) + int(e.data["quantity"])
    pending = []
    for e in rows:
        if e.kind != "prescription" or e.voided:
            continue
        d = e.data
        wanted = d.get("quantity")
        if given.get(e.id, 0) and (wanted is None or given[e.id] >= wanted):
            continue
        pending.append(PendingPrescription(
            patient.id, patient.full_name, e.id, d["drug"], d.get("drug_id"), d["dose"],
            d["dose_unit"], d["route"], d["frequency"], d["duration_days"], wanted,
            given.get(e.id, 0), e.at_ms,
        ))
    return pending
