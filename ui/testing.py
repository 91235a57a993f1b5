"""InMemoryClinic: an in-memory ClinicService for UI tests, demos and benchmarks.

It validates with the same `crdt_model.validate` / `crdt_model.rules` functions as the daemon
and keeps plain dicts, so UI tests run in milliseconds. Its search scans every patient: fine for
tests, meaningless for timing (the daemon searches an index).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from crdt_model import rules, validate
from crdt_model.errors import ConflictError, NotFound, ValidationError
from crdt_model.ids import check_slug
from crdt_model.spelling import fold
from ui.records import (
    STATIONS,
    ChangeEvent,
    Chart,
    ChartEntry,
    Facility,
    HistoryEntry,
    PatientSummary,
    PendingLabOrder,
    PendingPrescription,
    QueueEntry,
    ReviewCandidate,
    ReviewItem,
    StockLevel,
    SyncStatus,
    User,
    VisitFact,
)
from ui.service import ClinicService
from ui.testing_index import PatientIndex
from ui.testing_worklists import open_lab_orders, open_prescriptions

DEVICE_NAME = "this-tablet"


@dataclass
class _Patient:
    summary: PatientSummary
    entries: list[ChartEntry] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass
class InMemoryClinic:
    """A whole clinic in dicts; `clock` returns epoch seconds."""

    clock: Callable[[], float] = time.time
    sync: SyncStatus = field(default_factory=lambda: SyncStatus(device_name=DEVICE_NAME))
    _facility: Facility | None = None
    _users: dict[str, User] = field(default_factory=dict)
    _patients: dict[str, _Patient] = field(default_factory=dict)
    _queues: dict[str, dict[str, QueueEntry]] = field(default_factory=dict)
    _drugs: dict[str, StockLevel] = field(default_factory=dict)
    _reviews: dict[str, ReviewItem] = field(default_factory=dict)
    _visits: dict[tuple[str, str], VisitFact] = field(default_factory=dict)
    _subscribers: set[asyncio.Queue[ChangeEvent]] = field(default_factory=set)
    _index: PatientIndex = field(default_factory=PatientIndex)
    reads: list[tuple[str, str]] = field(default_factory=list)  # (user id, patient id) audit

    # --- helpers --------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock()).date().isoformat()

    def _user_name(self, user_id: str) -> str:
        user = self._users.get(user_id)
        return user.name if user else user_id

    def _notify(self, doc_id: str, kind: str) -> None:
        for queue in self._subscribers:
            queue.put_nowait(ChangeEvent(doc_id, kind))

    def _patient(self, patient_id: str) -> _Patient:
        try:
            return self._patients[patient_id]
        except KeyError:
            raise NotFound("no such patient on this device", field="patient_id") from None

    def _add_entry(self, patient_id: str, kind: str, data: Mapping[str, Any], by: str) -> str:
        patient = self._patient(patient_id)
        entry = ChartEntry(
            id=uuid.uuid4().hex, kind=kind, data=dict(data), at_ms=self._now_ms(),
            user_name=self._user_name(by), device_name=DEVICE_NAME,
        )
        patient.entries.append(entry)
        self._log(patient, by, kind, _summary(kind, data))
        self._notify(f"chart:{patient_id}", "chart")
        return entry.id

    def _log(self, patient: _Patient, by: str, action: str, summary: str) -> None:
        patient.history.append(
            HistoryEntry(self._now_ms(), self._user_name(by), DEVICE_NAME, action, summary)
        )

    def add_conflict(
        self, patient_id: str, field_name: str, values: list[tuple[str, str, str]]
    ) -> str:
        """Test helper: a review item as if devices wrote (value, user, device) concurrently."""
        patient = self._patient(patient_id)
        item = ReviewItem(
            id=uuid.uuid4().hex, patient_id=patient_id, patient_name=patient.summary.full_name,
            field=field_name,
            candidates=tuple(
                ReviewCandidate(value, user, device, self._now_ms())
                for value, user, device in values
            ),
        )
        self._reviews[item.id] = item
        return item.id

    # --- facility and users ---------------------------------------------------------------
    async def facility(self) -> Facility | None:
        return self._facility

    async def set_up_facility(
        self, facility_name: str, admin_name: str, admin_pin_hash: str, language: str
    ) -> User:
        if self._facility is not None:
            raise ConflictError("this device is already set up")
        name = validate.name(facility_name, "facility_name")
        self._facility = Facility(id="main", name=name)
        return await self.add_user(admin_name, ("admin",), admin_pin_hash, language, by="")

    async def users(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.name.casefold())

    async def add_user(
        self, name: str, roles: tuple[str, ...], pin_hash: str, language: str | None, by: str
    ) -> User:
        clean = validate.name(name, "name")
        if any(u.name.casefold() == clean.casefold() for u in self._users.values()):
            raise ConflictError("a user with this name exists", field="name")
        if not roles:
            raise ValidationError("choose at least one role", field="roles")
        user = User(uuid.uuid4().hex, clean, tuple(roles), pin_hash, language)
        self._users[user.id] = user
        self._notify("directory:main", "directory")
        return user

    async def set_user_language(self, user_id: str, language: str, by: str) -> None:
        self._users[user_id] = replace(self._users[user_id], language=language)

    async def set_user_pin(self, user_id: str, pin_hash: str, by: str) -> None:
        self._users[user_id] = replace(self._users[user_id], pin_hash=pin_hash)

    # --- patients -------------------------------------------------------------------------
    async def search_patients(self, query: str, limit: int = 20) -> list[PatientSummary]:
        scores = self._index.search(query)
        found = [self._patients[pid].summary for pid in scores]
        found.sort(key=lambda p: (-scores[p.id], p.family_name, p.given_name))
        return found[:limit]

    async def register_patient(self, demographics: Mapping[str, Any], today: str, by: str) -> str:
        clean = validate.registration(dict(demographics), today)
        patient_id = str(uuid.uuid4())
        summary = PatientSummary(
            id=patient_id, given_name=clean["given_name"], family_name=clean["family_name"],
            sex=clean["sex"], birth_date=clean["birth_date"],
            birth_date_estimated=clean["birth_date_estimated"], phone=clean.get("phone"),
            village=clean.get("village"), national_id=clean.get("national_id"),
        )
        patient = _Patient(summary)
        self._patients[patient_id] = patient
        self._index.add(summary)
        self._log(patient, by, "registered", summary.full_name)
        self._notify(f"chart:{patient_id}", "chart")
        return patient_id

    async def get_chart(self, patient_id: str, by: str = "") -> Chart:
        patient = self._patient(patient_id)
        self.reads.append((by, patient_id))
        return Chart(patient.summary, tuple(patient.entries))

    async def chart_history(self, patient_id: str, by: str = "") -> list[HistoryEntry]:
        self.reads.append((by, patient_id))
        return list(self._patient(patient_id).history)

    async def record_triage(self, patient_id: str, triage: Mapping[str, Any], by: str) -> str:
        clean = rules.triage_entry(dict(triage))
        entry_id = self._add_entry(patient_id, "triage", clean, by)
        for queue in self._queues.values():
            if patient_id in queue:
                queue[patient_id] = replace(queue[patient_id], triage_category=clean["category"])
        return entry_id

    async def add_allergy(self, patient_id: str, allergy: Mapping[str, Any], by: str) -> str:
        return self._add_entry(patient_id, "allergy", rules.allergy_entry(dict(allergy)), by)

    async def add_note(self, patient_id: str, note: Mapping[str, Any], by: str) -> str:
        return self._add_entry(patient_id, "note", rules.note_entry(dict(note)), by)

    async def add_diagnosis(self, patient_id: str, diagnosis: Mapping[str, Any], by: str) -> str:
        clean = rules.diagnosis_entry(dict(diagnosis))
        entry_id = self._add_entry(patient_id, "diagnosis", clean, by)
        visit = self._visits.get((self._today(), patient_id))
        if visit is not None:
            codes = (*visit.diagnosis_codes, clean["code"])
            self._visits[(visit.day, patient_id)] = replace(visit, diagnosis_codes=codes)
        return entry_id

    async def prescribe(self, patient_id: str, prescription: Mapping[str, Any], by: str) -> str:
        clean = rules.prescription_entry(dict(prescription))
        return self._add_entry(patient_id, "prescription", clean, by)

    async def order_lab(self, patient_id: str, order: Mapping[str, Any], by: str) -> str:
        return self._add_entry(patient_id, "lab_order", rules.lab_order_entry(dict(order)), by)

    async def record_lab_result(self, patient_id: str, result: Mapping[str, Any], by: str) -> str:
        clean = rules.lab_result_entry(dict(result))
        orders = {e.id for e in self._patient(patient_id).entries if e.kind == "lab_order"}
        if clean["order_id"] not in orders:
            raise NotFound("no such lab order", field="order_id")
        return self._add_entry(patient_id, "lab_result", clean, by)

    async def void_entry(self, patient_id: str, entry_id: str, reason: str, by: str) -> None:
        patient = self._patient(patient_id)
        why = validate.text(reason, "reason")
        for i, entry in enumerate(patient.entries):
            if entry.id == entry_id:
                if entry.voided:
                    raise ConflictError("this entry is already voided")
                patient.entries[i] = replace(entry, voided=True, void_reason=why)
                if entry.kind == "diagnosis":
                    self._drop_diagnosis(patient_id, str(entry.data.get("code")))
                self._log(patient, by, "void", why)
                self._notify(f"chart:{patient_id}", "chart")
                return
        raise NotFound("no such entry", field="entry_id")

    def _drop_diagnosis(self, patient_id: str, code: str) -> None:
        """An entered-in-error diagnosis no longer counts in the visit reports."""
        for key, visit in self._visits.items():
            if key[1] == patient_id and code in visit.diagnosis_codes:
                codes = list(visit.diagnosis_codes)
                codes.remove(code)
                self._visits[key] = replace(visit, diagnosis_codes=tuple(codes))
                return

    # --- queue ----------------------------------------------------------------------------
    async def queue_today(self, day: str) -> list[QueueEntry]:
        return sorted(self._queues.get(day, {}).values(), key=lambda q: q.arrived_ms)

    async def check_in(self, patient_id: str, day: str, by: str) -> str:
        patient = self._patient(patient_id)
        queue = self._queues.setdefault(day, {})
        if patient_id in queue and queue[patient_id].station != "done":
            return queue[patient_id].encounter_id
        visit = {"encounter_type": "outpatient"}
        encounter_id = self._add_entry(patient_id, "encounter", visit, by)
        now = self._now_ms()
        queue[patient_id] = QueueEntry(
            patient_id, patient.summary.given_name, patient.summary.family_name, "triage",
            now, now, encounter_id,
        )
        self._visits[(day, patient_id)] = VisitFact(
            day, patient_id, patient.summary.sex, _age(patient.summary.birth_date, day),
            ("registration", "triage"),
        )
        self._notify(f"queue:main:{day}", "queue")
        return encounter_id

    async def move_patient(self, patient_id: str, day: str, station: str, by: str) -> None:
        validate.choice(station, "station", STATIONS)
        queue = self._queues.get(day, {})
        if patient_id not in queue:
            raise NotFound("this patient is not in today's queue", field="patient_id")
        queue[patient_id] = replace(queue[patient_id], station=station, since_ms=self._now_ms())
        visit = self._visits.get((day, patient_id))
        if visit is not None and station not in visit.stations:
            self._visits[(day, patient_id)] = replace(visit, stations=(*visit.stations, station))
        self._notify(f"queue:main:{day}", "queue")

    def subscribe(self) -> AsyncIterator[ChangeEvent]:
        return _Subscription(self._subscribers)

    # --- worklists ------------------------------------------------------------------------
    async def pending_lab_orders(self) -> list[PendingLabOrder]:
        pending = [row for p in self._patients.values()
                   for row in open_lab_orders(p.summary, p.entries)]
        return sorted(pending, key=lambda p: p.at_ms)

    async def pending_prescriptions(self) -> list[PendingPrescription]:
        pending = [row for p in self._patients.values()
                   for row in open_prescriptions(p.summary, p.entries)]
        return sorted(pending, key=lambda p: p.at_ms)

    # --- stock ----------------------------------------------------------------------------
    async def stock(self) -> list[StockLevel]:
        return sorted(self._drugs.values(), key=lambda s: s.name.casefold())

    async def add_drug(self, name: str, unit: str, reorder_level: int, by: str) -> str:
        clean = validate.name(name, "name")
        drug_id = check_slug(_slug(clean), "name")
        if drug_id in self._drugs:
            raise ConflictError("this drug is already in the catalogue", field="name")
        level = validate.integer(reorder_level, "reorder_level", 0, rules.MAX_QUANTITY)
        self._drugs[drug_id] = StockLevel(drug_id, clean, validate.name(unit, "unit"), 0, level)
        self._notify("facility:main", "facility")
        return drug_id

    def _ledger(self, drug_id: str, quantity: int) -> None:
        if drug_id not in self._drugs:
            raise NotFound("no such drug", field="drug_id")
        drug = self._drugs[drug_id]
        self._drugs[drug_id] = replace(drug, level=drug.level + quantity)
        self._notify("facility:main", "facility")

    async def dispense(self, patient_id: str, dispense: Mapping[str, Any], by: str) -> str:
        clean = rules.dispense_input(dict(dispense))
        if clean["drug_id"] not in self._drugs:
            raise NotFound("no such drug", field="drug_id")
        entry_id = self._add_entry(patient_id, "dispensation", clean, by)
        self._ledger(clean["drug_id"], -clean["quantity"])
        return entry_id

    async def receive_stock(self, drug_id: str, quantity: int, note: str, by: str) -> None:
        self._ledger(drug_id, validate.integer(quantity, "quantity", 1, rules.MAX_QUANTITY))

    async def adjust_stock(self, drug_id: str, quantity: int, reason: str, by: str) -> None:
        validate.text(reason, "reason")
        limit = rules.MAX_QUANTITY
        self._ledger(drug_id, validate.integer(quantity, "quantity", -limit, limit))

    # --- review, sync, reports ------------------------------------------------------------
    async def review_items(self) -> list[ReviewItem]:
        return list(self._reviews.values())

    async def resolve_review(self, item_id: str, value: str, note: str, by: str) -> None:
        item = self._reviews.pop(item_id, None)
        if item is None:
            raise NotFound("this review item is already resolved", field="item_id")
        patient = self._patient(item.patient_id)
        if item.field in ("given_name", "family_name", "sex", "birth_date", "phone", "village"):
            self._index.remove(patient.summary)
            patient.summary = replace(patient.summary, **{item.field: value})  # type: ignore[arg-type]
            self._index.add(patient.summary)
        self._log(patient, by, "review", f"{item.field} = {value} ({note})")
        self._notify(f"chart:{item.patient_id}", "chart")

    async def sync_status(self) -> SyncStatus:
        return self.sync

    async def visits(self, first_day: str, last_day: str) -> list[VisitFact]:
        return [v for (day, _), v in sorted(self._visits.items()) if first_day <= day <= last_day]


class _Subscription:
    """Changes from the moment `subscribe()` was called (not from the first `anext`)."""

    def __init__(self, subscribers: set[asyncio.Queue[ChangeEvent]]) -> None:
        self._queue: asyncio.Queue[ChangeEvent] = asyncio.Queue()
        self._subscribers = subscribers
        subscribers.add(self._queue)

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> ChangeEvent:
        if self._queue not in self._subscribers:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        """Stop receiving changes."""
        self._subscribers.discard(self._queue)


def _summary(kind: str, data: Mapping[str, Any]) -> str:
    for key in ("label", "drug", "test", "substance", "text", "category", "value", "quantity"):
        if key in data:
            return str(data[key])
    return ""


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in fold(name)).strip("-")[:64] or "drug"


def _age(birth_date: str, day: str) -> int:
    born, today = date.fromisoformat(birth_date), date.fromisoformat(day)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _implements_the_protocol(clinic: InMemoryClinic) -> ClinicService:
    """Never called: mypy checks here that the fake has every ClinicService method."""
    return clinic
