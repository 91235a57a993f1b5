"""The day's patient flow, the lab and pharmacy worklists, stock, reports and sync status for
the UI: each method calls the clinic core once and turns its answer into the UI's records."""

from __future__ import annotations

from collections.abc import Mapping

from meshd.clinic_ui.base import ServiceBase
from meshd.clinic_ui.records import (
    lab_order,
    prescription,
    queue_entry,
    review_item,
    stock_level,
    visit_fact,
)
from meshd.clinic_ui.sync_view import sync_status
from ui.records import (
    FollowUp,
    PendingLabOrder,
    PendingPrescription,
    PeriodReport,
    QueueEntry,
    ReviewItem,
    StockLevel,
    SyncStatus,
    VisitFact,
)
from ui.stock import StockBatch, StockCard, StockMovement


class Flow(ServiceBase):
    """Queue, worklists, stock, reports, sync."""

    async def queue_today(self, day: str) -> list[QueueEntry]:
        """Every patient of `day`'s queue (their latest place), oldest arrival first."""
        return [queue_entry(w) for w in await self.clinic.waiting(day)]

    async def check_in(self, patient_id: str, day: str, by: str) -> str:
        """Open the day's encounter and queue the patient for triage; returns the encounter."""
        return await self.clinic.check_in(patient_id, self.writer(by), day)

    async def move_patient(self, patient_id: str, day: str, station: str, by: str) -> None:
        """Send a queued patient to another station (or `done`)."""
        await self.clinic.move_patient(patient_id, station, self.writer(by), day)

    async def follow_ups(self, day: str) -> list[FollowUp]:
        """Patients a consultation asked back on `day`, by family name."""
        return [FollowUp(str(r["patient_id"]), str(r["given_name"]), str(r["family_name"]),
                         r.get("number"), str(r["day"]), r.get("plan"))
                for r in await self.clinic.follow_ups(day, self.reader())]

    async def pending_lab_orders(self) -> list[PendingLabOrder]:
        """Lab orders without a result, oldest first."""
        names = await self.clinic.names()
        return [lab_order(r, names) for r in await self.clinic.pending_lab_orders()]

    async def pending_prescriptions(self) -> list[PendingPrescription]:
        """Prescriptions not yet fully dispensed, oldest first."""
        names = await self.clinic.names()
        return [prescription(r, names) for r in await self.clinic.pending_prescriptions()]

    async def review_items(self) -> list[ReviewItem]:
        """Unresolved concurrent edits of critical fields (and rival corrections)."""
        names = await self.clinic.names()
        return [review_item(r, names) for r in await self.clinic.review_rows()]

    async def stock(self) -> list[StockLevel]:
        """The drug catalogue with current levels, by name."""
        return [stock_level(s) for s in await self.clinic.stock_list()]

    async def add_drug(self, name: str, unit: str, reorder_level: int, by: str,
                       atc: str = "") -> str:
        """A new drug in the catalogue (level 0), with its WHO ATC code if known; its id."""
        data: dict[str, object] = {"name": name, "unit": unit, "reorder_level": reorder_level}
        if atc:
            data["atc"] = atc
        return await self.clinic.add_drug(data, self.writer(by))

    async def receive_stock(self, drug_id: str, quantity: int, note: str, by: str,
                            batch: str = "", expires: str = "") -> None:
        """Add +quantity to the ledger (of a batch expiring on `expires`, when given)."""
        data: dict[str, object] = {"drug_id": drug_id, "quantity": quantity}
        for key, value in (("ref", note), ("batch", batch), ("expires", expires)):
            if value.strip():
                data[key] = value.strip()
        await self.clinic.receive_stock(data, self.writer(by))

    async def expiring_batches(self) -> list[tuple[StockBatch, str, str]]:
        """Batches in stock that expired or expire within 90 days, soonest first."""
        return [(StockBatch(r["batch"], r["expires"], r["level"], r["expired"], True),
                 r["drug_id"], str(r["name"])) for r in await self.clinic.expiring_batches()]

    async def stock_card(self, drug_id: str) -> StockCard:
        """A drug's batches (soonest expiry first) and every movement."""
        card = await self.clinic.stock_card(drug_id, self.reader())
        return StockCard(
            drug_id, str(card["name"] or drug_id), str(card["unit"] or ""), int(card["level"]),
            tuple(StockBatch(b["batch"], b["expires"], b["level"], b["expired"],
                             b["near_expiry"]) for b in card["batches"]),
            tuple(StockMovement(int(m["at"] or 0), str(m["kind"]), int(m["quantity"]),
                                tuple((str(b), int(q)) for b, q in m["batches"]), m["ref"],
                                m["user_name"], int(m["level"])) for m in card["movements"]))

    async def adjust_stock(self, drug_id: str, quantity: int, reason: str, by: str) -> None:
        """Add a signed correction to the ledger."""
        await self.clinic.adjust_stock(
            {"drug_id": drug_id, "quantity": quantity, "reason": reason}, self.writer(by)
        )

    async def stock_batches(self) -> dict[str, list[StockBatch]]:
        """Each drug's batches not used up (level, expiry), soonest expiry first."""
        return {drug_id: [StockBatch(b["batch"], b["expires"], b["level"], b["expired"],
                                     b["near_expiry"]) for b in found]
                for drug_id, found in (await self.clinic.stock_batches()).items()}

    async def count_batches(self, drug_id: str, counts: Mapping[str, int], reason: str,
                            by: str) -> int:
        """A shelf count per batch; the number of batches adjusted."""
        return len(await self.clinic.count_batches(drug_id, counts, reason, self.writer(by)))

    async def count_stock(self, drug_id: str, counted: int, reason: str, by: str) -> None:
        """Set a drug's level to what was counted on the shelf."""
        await self.clinic.count_stock(drug_id, counted, reason, self.writer(by))

    async def sync_status(self) -> SyncStatus:
        """Peers, relay and pending changes as the sync engine sees them now."""
        names = await self.clinic.names()
        return sync_status(self.identity.device_name, self._sync_report(), self._relay_url,
                           self._started_ms, names.devices)

    async def link_relay(self, credential: str, by: str) -> str:
        """Link the clinic to the central relay with a credential file's text; its URL."""
        return (await self.clinic.link_relay(credential, self.writer(by)))["url"]

    async def visits(self, first_day: str, last_day: str) -> list[VisitFact]:
        """Every visit between two days (inclusive), for reports."""
        return [visit_fact(r) for r in await self.clinic.visits(first_day, last_day)]

    async def period_report(self, first_day: str, last_day: str, by: str) -> PeriodReport:
        """The clinic's report of the days first..last inclusive (what DHIS2 is sent)."""
        found = await self.clinic.period_report(first_day, last_day, self.reader(by))
        return PeriodReport(
            found.first_day, found.last_day, found.visits, found.visits_per_day,
            found.by_station, found.by_age_sex, found.diagnoses, tuple(found.top_diagnoses),
            found.stock_consumed, tuple(found.by_age_sex),
        )
