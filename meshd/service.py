"""The clinic as this device serves it: clinical operations on top of Documents, with audit.

The JSON API (and the UI, through its own Protocol) call this, never the store directly. Each
method stamps the operation with who and when, picks the documents it touches (a chart, the
facility, the queue of the day), runs the pure crdt_model function on them through Documents,
and records an audit row for every chart read and write. No HTTP here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from crdt_model import chart, directory, facility, queue, worklists
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import NotFound, ValidationError
from crdt_model.ids import (
    CHART,
    DIRECTORY,
    FACILITY,
    QUEUE,
    chart_id,
    check_uuid,
    facility_id,
    parse_doc_id,
    queue_id,
)
from meshd.docs import Documents
from meshd.identity import Identity
from meshd.store.base import AuditEvent, Projections, WorklistRow

MAX_SEARCH_RESULTS = 50
# The worklists a chart projects into (Store.worklist kinds).
LAB_ORDERS = "lab_order"
PRESCRIPTIONS = "prescription"
REVIEWS = "review"
VISITS = "visit"

Operation = Callable[[Doc, Author, str], object]
"""A domain operation bound to its input: (doc, author, new entry id) -> anything."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking (a user id, or `api` for the bearer token) and from which address."""

    user: str
    origin: str


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (the only clock the clinic reads)."""
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A fresh entry or patient id."""
    return str(uuid.uuid4())


class Clinic:
    """Clinical reads and writes of this device, audited."""

    def __init__(
        self, docs: Documents, identity: Identity, *,
        clock: Callable[[], int] = now_ms, today: Callable[[], date] = date.today,
    ) -> None:
        self.docs = docs
        self.identity = identity
        self._clock = clock
        self._today = today

    # -- helpers ---------------------------------------------------------------------------

    def today(self) -> date:
        """Today's date on this device (for registration ages and the queue of the day)."""
        return self._today()

    def now_ms(self) -> int:
        """The time now on this device's clock, epoch milliseconds."""
        return self._clock()

    def author(self, caller: Caller) -> Author:
        """The Author stamped on a change made now by `caller` on this device."""
        return Author(self.identity.device_id, caller.user, self._clock())

    def audit(self, caller: Caller, action: str, doc_id: str, detail: str = "") -> AuditEvent:
        """An audit row for `action` on `doc_id` by `caller`, now."""
        return AuditEvent(self._clock(), caller.user, action, doc_id, caller.origin, detail)

    @property
    def facility_doc_id(self) -> str:
        """The doc id of this device's facility."""
        return facility_id(self.identity.facility_id)

    def queue_doc_id(self, day: str | None = None) -> str:
        """The doc id of the queue of `day` (today by default) at this facility."""
        return queue_id(self.identity.facility_id, day or self._today().isoformat())

    # -- patients --------------------------------------------------------------------------

    async def register_patient(
        self, data: Mapping[str, Any], caller: Caller, today: date | str | None = None
    ) -> str:
        """Create a chart from registration `data` (ages counted to `today`); returns its id."""
        patient_id = new_id()
        day = today if today is not None else self._today()
        doc = chart.register_patient(patient_id, dict(data), self.author(caller), day)
        doc_id = chart_id(patient_id)
        await self.docs.create(doc_id, doc, [self.audit(caller, "register", doc_id)])
        return patient_id

    async def search_patients(
        self, query: str, caller: Caller, limit: int = MAX_SEARCH_RESULTS
    ) -> list[dict[str, Any]]:
        """Search rows for `query` (all recent patients when empty), at most `limit`."""
        rows = await self.docs.store.search_patients(query, min(limit, MAX_SEARCH_RESULTS))
        audit = [self.audit(caller, "search", "chart:*", query[:100])]
        await self.docs.store.write([], audit)
        return rows

    async def chart(self, patient_id: str, caller: Caller) -> dict[str, Any]:
        """The chart of `patient_id` as JSON-ready values (NotFound if unknown)."""
        doc_id = chart_id(check_uuid(patient_id, "id"))
        view: dict[str, Any] = await self.docs.read(
            doc_id, chart.chart_view, [self.audit(caller, "read", doc_id)]
        )
        return view

    async def chart_op(
        self, patient_id: str, action: str, run: Operation, caller: Caller
    ) -> str:
        """Run one chart operation as `caller`; returns the id of the entry it wrote."""
        doc_id = chart_id(check_uuid(patient_id, "id"))
        entry_id = new_id()
        author = self.author(caller)
        await self.docs.update(
            doc_id, lambda doc: run(doc, author, entry_id),
            [self.audit(caller, action, doc_id, entry_id)], actor=author.actor,
        )
        return entry_id

    async def link_duplicate(self, patient_id: str, survivor_id: str, caller: Caller) -> str:
        """Record that chart `patient_id` is the same patient as `survivor_id` (both keep all)."""
        duplicate = chart_id(check_uuid(patient_id, "id"))
        survivor = chart_id(check_uuid(survivor_id, "survivor"))
        if survivor == duplicate:
            raise ValidationError("a chart can't be linked to itself", field="survivor")
        entry_id = new_id()
        author = self.author(caller)
        await self.docs.update_many(
            [duplicate, survivor],
            lambda docs: chart.link_duplicate(docs[0], docs[1], author, entry_id),
            [self.audit(caller, "link_duplicate", duplicate, entry_id),
             self.audit(caller, "link_duplicate", survivor, entry_id)],
            actor=author.actor,
        )
        return entry_id

    async def dispense(self, patient_id: str, data: Mapping[str, Any], caller: Caller) -> str:
        """Dispense against a prescription: one chart entry and one stock ledger line, together."""
        doc_id = chart_id(check_uuid(patient_id, "id"))
        entry_id, ledger_id = new_id(), new_id()
        author = self.author(caller)
        payload = dict(data)
        await self.docs.update_many(
            [doc_id, self.facility_doc_id],
            lambda docs: chart.dispense(docs[0], docs[1], payload, author, entry_id, ledger_id),
            [self.audit(caller, "dispense", doc_id, entry_id)], actor=author.actor,
        )
        return entry_id

    # -- facility and queue ----------------------------------------------------------------

    async def drugs(self) -> dict[str, dict[str, Any]]:
        """The facility's drug catalogue: drug id -> {name, form, strength, unit}."""
        return await self.docs.read(self.facility_doc_id, facility.drug_catalogue)

    async def stock(self) -> dict[str, dict[str, Any]]:
        """Stock level of every drug of the facility."""
        return await self.docs.read(self.facility_doc_id, facility.stock_levels)

    async def facility_op(self, run: Operation, caller: Caller, entry_id: str | None = None,
                          ) -> str:
        """Run a facility operation (add a drug, receive or adjust stock); returns its id."""
        entry_id = entry_id or new_id()
        author = self.author(caller)
        await self.docs.update(
            self.facility_doc_id, lambda doc: run(doc, author, entry_id), actor=author.actor,
        )
        return entry_id

    async def queue_rows(self, day: str | None = None) -> list[dict[str, Any]]:
        """Who waits where on `day` (today by default), oldest arrival first."""
        return await self.docs.read(self.queue_doc_id(day), queue.queue_rows)

    async def enqueue(self, patient_id: str, station: str, caller: Caller) -> str:
        """Queue a registered patient at `station` today; returns the queue entry id."""
        pid = check_uuid(patient_id, "patient_id")
        if not await self.docs.exists(chart_id(pid)):
            raise NotFound(f"no patient {pid} on this device", field="patient_id")
        return await self.queue_op(
            lambda doc, author, eid: queue.enqueue(doc, pid, station, author, eid), caller
        )

    async def queue_op(self, run: Operation, caller: Caller, entry_id: str | None = None) -> str:
        """Run a queue operation on today's queue; returns the queue entry id."""
        entry_id = entry_id or new_id()
        author = self.author(caller)
        await self.docs.update(
            self.queue_doc_id(), lambda doc: run(doc, author, entry_id), actor=author.actor,
        )
        return entry_id


def genesis_for(device_id: str) -> Callable[[str, bytes], Doc | None]:
    """The Documents genesis hook: the deterministic first state of facility/queue/directory."""
    system = Author(device_id, "system", 0)

    def genesis(doc_id: str, actor: bytes) -> Doc | None:
        kind, parts = parse_doc_id(doc_id)
        if kind == FACILITY:
            return facility.facility_genesis(parts[0], system)
        if kind == QUEUE:
            return queue.queue_genesis(parts[0], parts[1], system)
        if kind == DIRECTORY:
            return directory.directory_genesis(parts[0], system)
        return None

    return genesis


def local_day(at_ms: int) -> str:
    """The device's local calendar day of an instant (the day a clinic calls it)."""
    return datetime.fromtimestamp(at_ms / 1000).date().isoformat()


def chart_worklists(doc: Doc, day_of: Callable[[int], str] = local_day) -> list[WorklistRow]:
    """A chart's rows in the worklists: pending labs and prescriptions, reviews, visits."""
    row = chart.patient_row(doc)
    patient = {
        "patient_id": row["id"], "given_name": row.get("given_name") or "",
        "family_name": row.get("family_name") or "",
    }
    rows = [
        WorklistRow(LAB_ORDERS, o["order_id"], o["at_ms"], {**o, **patient})
        for o in worklists.pending_lab_orders(doc)
    ]
    rows += [
        WorklistRow(PRESCRIPTIONS, p["prescription_id"], p["at_ms"], {**p, **patient})
        for p in worklists.pending_prescriptions(doc)
    ]
    rows += [
        WorklistRow(REVIEWS, item["id"], max(_ats(item["candidates"]), default=0),
                    {**item, **patient})
        for item in chart.review_items(doc)
    ]
    rows += [
        WorklistRow(VISITS, fact["day"], fact["day"], {**fact, **patient})
        for fact in worklists.visit_facts(doc, day_of)
    ]
    return rows


def _ats(candidates: list[dict[str, Any]]) -> list[int]:
    return [c["at"] for c in candidates if isinstance(c.get("at"), int)]


def project(doc_id: str, doc: Doc) -> Projections | None:
    """The Documents projection hook: search row and worklists, queue rows or stock levels."""
    kind, _ = parse_doc_id(doc_id)
    if kind == CHART:
        return Projections(patient=chart.patient_row(doc), worklists=chart_worklists(doc))
    if kind == FACILITY:
        return Projections(stock=facility.stock_levels(doc))
    if kind == QUEUE:
        return Projections(queue=queue.queue_rows(doc))
    return None
