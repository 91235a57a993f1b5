"""The day's patient flow: check-in, who waits at which station, and where a patient goes next.

The workflow rules live here, so every door moves a patient the same way: triage sends them to
consultation, a lab result back from the lab to consultation, the last dispense of their
medicines from the pharmacy home (`done`). An act of care with no encounter joins today's visit,
checking the patient in when they are not queued yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crdt_model import chart, queue, validate, worklists
from crdt_model.adapter import Doc
from crdt_model.errors import NotFound
from crdt_model.ids import chart_id, check_day, check_entry_id, check_uuid
from meshd.clinic import actions
from meshd.clinic.base import Caller, ClinicBase, fields, new_id
from meshd.clinic.projections import VISITS, local_day
from meshd.store.base import QueueRow

FIRST_STATION = "triage"
DONE = "done"
# Visits of one report period (a month of a busy clinic is ~6,000).
REPORT_VISITS = 100_000


@dataclass(frozen=True, slots=True)
class Waiting:
    """A patient in the day's queue (their latest place) with the names of today's visit."""

    patient_id: str
    entry_id: str
    given_name: str
    family_name: str
    station: str
    since_ms: int
    arrived_ms: int
    encounter_id: str
    triage_category: str | None
    critical_results: tuple[str, ...] = ()  # tests of today's visit with a critical result


class Flow(ClinicBase):
    """The queue of the day and the moves the workflow makes."""

    def _day(self, day: str | None) -> str:
        return check_day(day, "day") if day else self._today().isoformat()

    async def queue_rows(self, day: str | None = None) -> list[QueueRow]:
        """Every queue entry of `day` (today by default) as projected, oldest arrival first."""
        return await self.store.queue_rows(self.queue_doc_id(self._day(day)))

    async def waiting(self, day: str | None = None) -> list[Waiting]:
        """Every patient of `day`'s queue at their latest place, oldest arrival first."""
        day = self._day(day)
        rows = await self.store.queue_rows(self.queue_doc_id(day))
        latest = {r.patient_id: r for r in rows}  # rows come oldest arrival first
        visits = {
            str(v.row["patient_id"]): v.row
            for v in await self.store.worklist(VISITS, day, day, limit=REPORT_VISITS)
        }
        found = []
        for patient_id, row in latest.items():
            visit = visits.get(patient_id) or await self._unlisted_visit(patient_id)
            category = visit.get("triage_category")
            found.append(Waiting(
                patient_id=patient_id, entry_id=row.entry_id,
                given_name=str(visit.get("given_name") or ""),
                family_name=str(visit.get("family_name") or ""), station=row.station,
                since_ms=row.since_ms, arrived_ms=row.enqueued_ms,
                encounter_id=str(visit.get("encounter_id") or ""),
                triage_category=category if isinstance(category, str) else None,
                critical_results=tuple(map(str, visit.get("critical_results") or ())),
            ))
        return sorted(found, key=lambda e: (e.arrived_ms, e.patient_id))

    async def _unlisted_visit(self, patient_id: str) -> Mapping[str, Any]:
        """Names of a patient queued without an encounter (e.g. through the API)."""
        try:
            return await self.docs.read(chart_id(patient_id), chart.patient_row)
        except NotFound:
            return {}

    async def check_in(self, patient_id: str, caller: Caller, day: str | None = None) -> str:
        """Open the day's encounter (or reuse an open one) and queue the patient for triage,
        in one transaction; a patient already waiting keeps their place. Returns the encounter."""
        await self.allow(caller, "register")
        pid = check_uuid(patient_id, "patient_id")
        day = self._day(day)
        for entry in await self.waiting(day):
            if entry.patient_id == pid and entry.station != DONE and entry.encounter_id:
                return entry.encounter_id
        author = self.author(caller)
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
            queue.enqueue(waiting, pid, FIRST_STATION, author, queue_entry)
            return found

        doc_id = chart_id(pid)
        return await self.docs.update_many(
            [doc_id, self.queue_doc_id(day)], check_in,
            [self.audit(caller, actions.CHECK_IN, doc_id, queue_entry)], actor=author.actor,
        )

    async def encounter_today(self, patient_id: str, caller: Caller) -> str:
        """Today's encounter of the patient, checking them in when they are not queued yet."""
        for entry in await self.waiting():
            if entry.patient_id == patient_id and entry.station != DONE:
                return entry.encounter_id
        return await self.check_in(patient_id, caller)

    async def in_visit(self, patient_id: str, data: Mapping[str, Any], caller: Caller,
                       ) -> dict[str, Any]:
        """`data` linked to an encounter: its own, else today's (see `encounter_today`)."""
        payload = fields(data)
        if payload.get("encounter_id") is None:
            payload["encounter_id"] = await self.encounter_today(patient_id, caller)
        return payload

    async def enqueue(self, patient_id: str, station: str, caller: Caller) -> str:
        """Queue a registered patient at `station` today; returns the queue entry id."""
        await self.allow(caller, "queue")
        pid = check_uuid(patient_id, "patient_id")
        if not await self.docs.exists(chart_id(pid)):
            raise NotFound(f"no patient {pid} on this device", field="patient_id")
        return await self.queue_op(
            lambda doc, author, eid: queue.enqueue(doc, pid, station, author, eid), caller
        )

    async def move_entry(self, entry_id: str, station: str, caller: Caller) -> str:
        """Send queue entry `entry_id` of today to `station` (`done` when they left)."""
        await self.allow(caller, "queue")
        entry = check_entry_id(entry_id, "entry")
        return await self.queue_op(
            lambda doc, author, mid: queue.move_to(doc, entry, station, author, mid), caller
        )

    async def move_patient(self, patient_id: str, station: str, caller: Caller,
                           day: str | None = None) -> str:
        """Send a queued patient to another station (or `done`); NotFound when not queued."""
        await self.allow(caller, "queue")
        validate.choice(station, "station", queue.STATIONS)
        day = self._day(day)
        rows = [r for r in await self.store.queue_rows(self.queue_doc_id(day))
                if r.patient_id == patient_id]
        if not rows:
            raise NotFound("this patient is not in today's queue", field="patient_id")
        entry = rows[-1].entry_id
        return await self.queue_op(
            lambda doc, author, mid: queue.move_to(doc, entry, station, author, mid), caller, day
        )

    async def advance(self, patient_id: str, stations: tuple[str, ...], to: str,
                      caller: Caller) -> None:
        """The workflow's next step: a patient queued today at one of `stations` goes `to`."""
        for entry in await self.waiting():
            if entry.patient_id == patient_id and entry.station in stations:
                await self.move_patient(patient_id, to, caller)
                return

    async def visits(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Visit facts of every visit between two days (inclusive), for reports."""
        first, last = check_day(first_day, "first_day"), check_day(last_day, "last_day")
        rows = await self.store.worklist(VISITS, first, last, limit=REPORT_VISITS)
        return [dict(w.row) for w in rows]
