"""The day's patient flow, the lab and pharmacy worklists, stock, reports and sync status.

Every list here is read from projection rows kept in the same transaction as their documents
(queue rows, stock levels, worklist rows), so a page view never loads every chart.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from crdt_model import chart, facility, queue, rules, validate, worklists
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound
from crdt_model.ids import chart_id, check_day, check_slug, check_uuid
from meshd.clinic_ui.base import ServiceBase, new_id
from meshd.clinic_ui.records import review_item
from meshd.clinic_ui.sync_view import sync_status
from meshd.service import LAB_ORDERS, PRESCRIPTIONS, REVIEWS, VISITS, local_day
from ui.records import (
    STATIONS,
    PendingLabOrder,
    PendingPrescription,
    QueueEntry,
    ReviewItem,
    StockLevel,
    SyncStatus,
    VisitFact,
)

# A worklist shows what is pending from the last WORKLIST_DAYS, at most WORKLIST_ROWS of it
# (oldest first): older unfinished items are old visits' leftovers, not today's work, and a page
# of thousands of rows is unusable (and slow: ~0.15 ms a row to render).
WORKLIST_DAYS = 30
WORKLIST_ROWS = 300
DAY_MS = 86_400_000
# Visits of one report period (a month of a busy clinic is ~6,000).
REPORT_VISITS = 100_000
MAX_REVIEW_ITEMS = 500


def drug_slug(name: str) -> str:
    """The catalogue id of a drug name: folded, non-alphanumerics as dashes."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return "".join(c if c.isalnum() else "-" for c in plain).strip("-")[:64] or "drug"


def _name(row: dict[str, Any]) -> str:
    return f"{row.get('given_name', '')} {row.get('family_name', '')}".strip()


class Flow(ServiceBase):
    """Queue, worklists, stock, reports, sync."""

    # --- the day's queue ------------------------------------------------------------------
    async def queue_today(self, day: str) -> list[QueueEntry]:
        """Every patient of `day`'s queue (their latest place), oldest arrival first."""
        rows = await self.store.queue_rows(self.clinic.queue_doc_id(check_day(day, "day")))
        latest = {str(r["patient_id"]): r for r in rows}  # rows come oldest arrival first
        visits = {
            str(v["row"]["patient_id"]): v["row"]
            for v in await self.store.worklist(VISITS, day, day, limit=REPORT_VISITS)
        }
        entries = []
        for patient_id, row in latest.items():
            visit = visits.get(patient_id) or await self._unlisted_visit(patient_id)
            entries.append(QueueEntry(
                patient_id=patient_id, given_name=str(visit.get("given_name") or ""),
                family_name=str(visit.get("family_name") or ""), station=str(row["station"]),
                since_ms=int(row["since_ms"]), arrived_ms=int(row["enqueued_ms"]),
                encounter_id=str(visit.get("encounter_id") or ""),
                triage_category=visit.get("triage_category"),
            ))
        return sorted(entries, key=lambda e: (e.arrived_ms, e.patient_id))

    async def _unlisted_visit(self, patient_id: str) -> dict[str, Any]:
        """Names of a patient queued without an encounter (e.g. through the API)."""
        try:
            return await self.docs.read(chart_id(patient_id), chart.patient_row)
        except NotFound:
            return {}

    async def check_in(self, patient_id: str, day: str, by: str) -> str:
        """Open the day's encounter (or reuse an open one) and queue the patient for triage,
        in one transaction; a patient already waiting keeps their place."""
        pid = check_uuid(patient_id, "patient_id")
        for entry in await self.queue_today(day):
            if entry.patient_id == pid and entry.station != "done" and entry.encounter_id:
                return entry.encounter_id
        caller = self.writer(by)
        author = self.clinic.author(caller)
        encounter_id, queue_entry = new_id(), new_id()

        def check_in(docs: list[Doc]) -> str:
            patient, waiting = docs
            today = [v for v in worklists.visit_facts(patient, local_day) if v["day"] == day]
            if today and today[0]["open"]:
                found = str(today[0]["encounter_id"])
            else:
                chart.open_encounter(patient, {"encounter_type": "outpatient"}, author,
                                     encounter_id)
                found = encounter_id
            queue.enqueue(waiting, pid, "triage", author, queue_entry)
            return found

        doc_id = chart_id(pid)
        return await self.docs.update_many(
            [doc_id, self.clinic.queue_doc_id(day)], check_in,
            [self.clinic.audit(caller, "check_in", doc_id, queue_entry)], actor=author.actor,
        )

    async def move_patient(self, patient_id: str, day: str, station: str, by: str) -> None:
        """Send a queued patient to another station (or `done`)."""
        validate.choice(station, "station", STATIONS)
        queue_doc = self.clinic.queue_doc_id(check_day(day, "day"))
        rows = [r for r in await self.store.queue_rows(queue_doc) if r["patient_id"] == patient_id]
        if not rows:
            raise NotFound("this patient is not in today's queue", field="patient_id")
        author = self.clinic.author(self.writer(by))
        entry_id, move_id = str(rows[-1]["entry_id"]), new_id()
        await self.docs.update(
            queue_doc, lambda doc: queue.move_to(doc, entry_id, station, author, move_id),
            actor=author.actor,
        )

    # --- worklists ------------------------------------------------------------------------
    async def pending_lab_orders(self) -> list[PendingLabOrder]:
        """Lab orders without a result, oldest first."""
        names = await self.names()
        return [
            PendingLabOrder(
                patient_id=str(r["patient_id"]), patient_name=_name(r),
                order_id=str(r["order_id"]), test=str(r["test"]), at_ms=int(r["at_ms"]),
                ordered_by=names.user(r.get("ordered_by")),
            )
            for r in (w["row"] for w in await self._pending(LAB_ORDERS))
        ]

    async def _pending(self, kind: str) -> list[dict[str, Any]]:
        since = self.clinic.now_ms() - WORKLIST_DAYS * DAY_MS
        return await self.store.worklist(kind, low=since, limit=WORKLIST_ROWS)

    async def pending_prescriptions(self) -> list[PendingPrescription]:
        """Prescriptions not yet fully dispensed, oldest first."""
        found = await self._pending(PRESCRIPTIONS)
        return [
            PendingPrescription(
                patient_id=str(r["patient_id"]), patient_name=_name(r),
                prescription_id=str(r["prescription_id"]), drug=str(r["drug"]),
                drug_id=r.get("drug_id"), dose=float(r["dose"]), dose_unit=str(r["dose_unit"]),
                route=str(r["route"]), frequency=str(r["frequency"]),
                duration_days=int(r["duration_days"]), quantity=r.get("quantity"),
                dispensed=int(r.get("dispensed") or 0), at_ms=int(r["at_ms"]),
            )
            for r in (w["row"] for w in found)
        ]

    async def review_items(self) -> list[ReviewItem]:
        """Unresolved concurrent edits of critical fields (and rival corrections)."""
        names = await self.names()
        rows = await self.store.worklist(REVIEWS, limit=MAX_REVIEW_ITEMS)
        return [review_item(r["row"], names) for r in rows]

    # --- pharmacy stock -------------------------------------------------------------------
    async def stock(self) -> list[StockLevel]:
        """The drug catalogue with current levels (projected ledger sums), by name."""
        doc_id = self.clinic.facility_doc_id
        drugs = await self.docs.read(doc_id, lambda doc: doc.get(("drugs",)))
        levels = await self.store.stock_levels(doc_id)
        found = [
            StockLevel(
                drug_id=drug_id, name=str(drug.get("name") or drug_id),
                unit=str(drug.get("unit") or ""),
                level=int(levels.get(drug_id, {}).get("level", 0)),
                reorder_level=int(drug.get("reorder_level") or 0),
            )
            for drug_id, drug in (drugs if isinstance(drugs, dict) else {}).items()
            if isinstance(drug, dict)
        ]
        return sorted(found, key=lambda s: s.name.casefold())

    async def add_drug(self, name: str, unit: str, reorder_level: int, by: str) -> str:
        """A new drug in the catalogue (level 0); returns its id."""
        clean = validate.name(name, "name")
        drug_id = check_slug(drug_slug(clean), "name")
        data = {
            "name": clean, "unit": validate.name(unit, "unit"),
            "reorder_level": validate.integer(reorder_level, "reorder_level", 0,
                                              rules.MAX_QUANTITY),
        }

        def add(doc: Doc, author: Author, _: str) -> None:
            catalogue = doc.get(("drugs",))
            if isinstance(catalogue, dict) and drug_id in catalogue:
                raise ConflictError("this drug is already in the catalogue", field="name")
            facility.add_drug(doc, drug_id, data, author)

        await self.clinic.facility_op(add, self.writer(by))
        return drug_id

    async def receive_stock(self, drug_id: str, quantity: int, note: str, by: str) -> None:
        """Add +quantity to the ledger."""
        data: dict[str, Any] = {"drug_id": drug_id, "quantity": quantity}
        if note.strip():
            data["ref"] = note.strip()
        await self.clinic.facility_op(
            lambda doc, author, lid: facility.receive_stock(doc, data, author, lid),
            self.writer(by),
        )

    async def adjust_stock(self, drug_id: str, quantity: int, reason: str, by: str) -> None:
        """Add a signed correction to the ledger (after a count)."""
        data = {"drug_id": drug_id, "quantity": quantity, "reason": reason}
        await self.clinic.facility_op(
            lambda doc, author, lid: facility.adjust_stock(doc, data, author, lid),
            self.writer(by),
        )

    # --- sync and reports -----------------------------------------------------------------
    async def sync_status(self) -> SyncStatus:
        """Peers, relay and pending changes as the sync engine sees them now."""
        return sync_status(
            self.identity.device_name, self._sync_report(), self._relay_url, self._started_ms
        )

    async def visits(self, first_day: str, last_day: str) -> list[VisitFact]:
        """Every visit between two days (inclusive), for reports."""
        first, last = check_day(first_day, "first_day"), check_day(last_day, "last_day")
        rows = await self.store.worklist(VISITS, first, last, limit=REPORT_VISITS)
        return [
            VisitFact(
                day=str(r["day"]), patient_id=str(r["patient_id"]), sex=str(r["sex"]),
                age_years=r.get("age_years"), stations=tuple(r.get("stations") or ()),
                diagnosis_codes=tuple(r.get("diagnosis_codes") or ()),
            )
            for r in (w["row"] for w in rows)
        ]
