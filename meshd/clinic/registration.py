"""Registration: new charts, finding patients (tolerant of spelling), reading a chart, editing
demographics and linking two charts of the same person."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from crdt_model import chart, directory, patient_number, validate
from crdt_model.chart_doc import chart_root
from crdt_model.errors import ValidationError
from crdt_model.ids import chart_id, check_uuid
from meshd.clinic import actions
from meshd.clinic.base import Caller, ClinicBase, Names, fields, new_id
from meshd.store.search import words

MAX_SEARCH_RESULTS = 50
MAX_DUPLICATES = 5
# Spelling tolerance: other spellings tried per word, words considered, searches at most.
SPELLINGS_PER_WORD = 3
MAX_FUZZY_WORDS = 3
MAX_SPELLINGS = 8


@dataclass(frozen=True, slots=True)
class ChartRead:
    """A chart's plain root as read under its lock, and the names its ids stand for."""

    root: dict[str, Any]
    names: Names


class Registration(ClinicBase):
    """Patients: register, search, read, correct demographics, link duplicates."""

    async def register_patient(
        self, data: Mapping[str, Any], caller: Caller, today: date | str | None = None
    ) -> str:
        """Create a chart from registration `data` (ages counted to `today`); returns its id."""
        await self.allow(caller, "register")
        patient_id = new_id()
        day = today if today is not None else self._today()
        validate.registration(fields(data), day)  # bad input uses up no number
        number = await self._numbers.take(await self.device_code(), self.store.patient_numbers)
        doc = chart.register_patient(patient_id, fields(data), self.author(caller), day, number)
        doc_id = chart_id(patient_id)
        await self.docs.create(doc_id, doc, [self.audit(caller, actions.REGISTER, doc_id)])
        return patient_id

    async def device_code(self) -> str:
        """This device's code in patient numbers: unique among the devices of the roster."""
        roster = await self.docs.read(self.directory_doc_id, directory.devices)
        return patient_number.device_code(self.identity.device_id, roster)

    async def search_patients(
        self, query: str, caller: Caller, limit: int = MAX_SEARCH_RESULTS
    ) -> list[dict[str, Any]]:
        """Search rows for `query` (recent patients when empty), best first: word prefixes,
        then (when those are few) the same words spelt one or two letters differently."""
        limit = min(limit, MAX_SEARCH_RESULTS)
        rows = await self.store.search_patients(query, limit)
        if query.strip() and len(rows) < limit:
            rows += await self._misspelt(query, limit - len(rows), {r["id"] for r in rows})
        await self.docs.record([self.audit(caller, actions.SEARCH, "chart:*", query[:100])])
        return rows

    async def _misspelt(self, query: str, limit: int, seen: set[Any]) -> list[dict[str, Any]]:
        options = [
            [word, *await self.store.similar_words(word, SPELLINGS_PER_WORD)]
            if not word.isdigit() else [word]
            for word in words(query)[:MAX_FUZZY_WORDS]
        ]
        found: list[dict[str, Any]] = []
        spellings = itertools.islice(itertools.product(*options), 1, MAX_SPELLINGS + 1)
        for spelling in spellings:  # the first product is the query as typed: done already
            for row in await self.store.search_patients(" ".join(spelling), limit):
                if row["id"] not in seen and len(found) < limit:
                    seen.add(row["id"])
                    found.append(row)
        return found

    async def likely_duplicates(
        self, data: Mapping[str, Any], caller: Caller, today: date | str | None = None,
        limit: int = MAX_DUPLICATES,
    ) -> list[dict[str, Any]]:
        """Patients who may be the one about to be registered from `data` (same or similar
        name, or the same phone), after checking `data` as registration would."""
        clean = validate.registration(fields(data), today if today is not None else self._today())
        queries = [f"{clean['given_name']} {clean['family_name']}"]
        if clean.get("phone"):
            queries.append(str(clean["phone"]))
        found: dict[str, dict[str, Any]] = {}
        for query in queries:
            for row in await self.search_patients(query, caller, limit):
                found.setdefault(str(row["id"]), row)
        return list(found.values())[:limit]

    async def chart(self, patient_id: str, caller: Caller) -> dict[str, Any]:
        """The chart of `patient_id` as JSON-ready values (NotFound if unknown)."""
        doc_id = chart_id(check_uuid(patient_id, "id"))
        view: dict[str, Any] = await self.docs.read(
            doc_id, chart.chart_view, [self.audit(caller, actions.READ, doc_id)]
        )
        return view

    async def chart_record(
        self, patient_id: str, caller: Caller, action: str = actions.READ
    ) -> ChartRead:
        """The chart's plain root and the names of its authors, audited as `action`."""
        doc_id = chart_id(check_uuid(patient_id, "patient_id"))
        root = await self.docs.read(doc_id, chart_root, [self.audit(caller, action, doc_id)])
        return ChartRead(root, await self.names())

    async def export(self, doc_id: str, caller: Caller) -> bytes:
        """A whole saved document (charts audited as an export); NotFound when unknown."""
        audit = [self.audit(caller, actions.EXPORT, doc_id)] if doc_id.startswith("chart:") else []
        return await self.docs.export(doc_id, audit)

    async def heads(self, doc_id: str) -> tuple[bytes, ...]:
        """The current heads of a document; NotFound when unknown."""
        return await self.docs.heads(doc_id)

    async def update_demographics(
        self, patient_id: str, data: Mapping[str, Any], caller: Caller
    ) -> str:
        """Write the changed demographic fields; returns the write id."""
        await self.allow(caller, "register")
        payload, today = fields(data), self._today()
        return await self.chart_op(
            patient_id, actions.DEMOGRAPHICS,
            lambda doc, author, wid: chart.update_demographics(doc, payload, author, wid, today),
            caller,
        )

    async def link_duplicate(self, patient_id: str, survivor_id: str, caller: Caller) -> str:
        """Record that chart `patient_id` is the same patient as `survivor_id` (both keep all)."""
        await self.allow(caller, "register")
        duplicate = chart_id(check_uuid(patient_id, "id"))
        survivor = chart_id(check_uuid(survivor_id, "survivor"))
        if survivor == duplicate:
            raise ValidationError("a chart can't be linked to itself", field="survivor")
        entry_id = new_id()
        author = self.author(caller)
        await self.docs.update_many(
            [duplicate, survivor],
            lambda docs: chart.link_duplicate(docs[0], docs[1], author, entry_id),
            [self.audit(caller, actions.LINK_DUPLICATE, duplicate, entry_id),
             self.audit(caller, actions.LINK_DUPLICATE, survivor, entry_id)],
            actor=author.actor,
        )
        return entry_id
