"""Patients and their charts for the UI: search, registration, reading, entries, review.

Every chart read and write goes through `meshd.service.Clinic` or `Documents` with an audit
row; entries are cleaned by the same `crdt_model.rules` the fake uses, inside the domain
operation, so bad input stores nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import NotFound, ValidationError
from crdt_model.ids import chart_id, check_uuid
from crdt_model.validate import text
from meshd.clinic_ui.base import ServiceBase, new_id
from meshd.clinic_ui.records import chart_parts, choice_for, history, patient_summary, to_chart
from meshd.service import REVIEWS
from meshd.store.search import words
from ui.records import Chart, HistoryEntry, PatientSummary

EntryOp = Callable[[Doc, Any, Author, str], object]
# Spelling tolerance: other spellings tried per word, words considered, searches at most.
SPELLINGS_PER_WORD = 3
MAX_FUZZY_WORDS = 3
MAX_SPELLINGS = 8
# Review items are few (concurrent edits of critical fields); one page holds them all.
MAX_REVIEW_ITEMS = 500


class Charts(ServiceBase):
    """Patient search, registration, charts and their entries."""

    async def search_patients(self, query: str, limit: int = 20) -> list[PatientSummary]:
        """Patients matching name, phone, id or village, best first: word prefixes, then
        (when those are few) the same words spelt one or two letters differently."""
        rows = await self.clinic.search_patients(query, self.reader(), limit)
        if len(rows) < limit:
            rows += await self._misspelt(query, limit - len(rows), {r["id"] for r in rows})
        return [patient_summary(str(row["id"]), row) for row in rows]

    async def _misspelt(self, query: str, limit: int, seen: set[Any]) -> list[dict[str, Any]]:
        typed = words(query)
        options = [
            [word, *await self.store.similar_words(word, SPELLINGS_PER_WORD)]
            if not word.isdigit() else [word]
            for word in typed[:MAX_FUZZY_WORDS]
        ]
        found: list[dict[str, Any]] = []
        spellings = itertools.islice(itertools.product(*options), 1, MAX_SPELLINGS + 1)
        for spelling in spellings:  # the first product is the query as typed: done already
            for row in await self.store.search_patients(" ".join(spelling), limit):
                if row["id"] not in seen and len(found) < limit:
                    seen.add(row["id"])
                    found.append(row)
        return found

    async def register_patient(self, demographics: Mapping[str, Any], today: str, by: str) -> str:
        """A new chart from `validate.registration` input; returns the patient id."""
        return await self.clinic.register_patient(demographics, self.writer(by), today)

    async def _read_chart(self, patient_id: str, action: str, by: str) -> dict[str, Any]:
        doc_id = chart_id(check_uuid(patient_id, "patient_id"))
        caller = self.writer(by) if by else self.reader()
        audit = [self.clinic.audit(caller, action, doc_id)]
        return await self.docs.read(doc_id, chart_parts, audit)

    async def get_chart(self, patient_id: str, by: str = "") -> Chart:
        """The whole chart; NotFound when unknown here. The read is audit-logged for `by`."""
        root = await self._read_chart(patient_id, "read", by)
        return to_chart(root, await self.names())

    async def chart_history(self, patient_id: str, by: str = "") -> list[HistoryEntry]:
        """Every change of the chart, oldest first: who, when, which device (audited)."""
        root = await self._read_chart(patient_id, "history", by)
        return history(root, await self.names())

    async def _entry(
        self, patient_id: str, action: str, op: EntryOp, data: Mapping[str, Any], by: str
    ) -> str:
        payload = dict(data)
        return await self.clinic.chart_op(
            patient_id, action, lambda doc, author, eid: op(doc, payload, author, eid),
            self.writer(by),
        )

    async def record_triage(self, patient_id: str, triage: Mapping[str, Any], by: str) -> str:
        """Add a triage entry (vitals, category, danger signs); returns the entry id."""
        return await self._entry(patient_id, "triage", chart.record_triage, triage, by)

    async def add_allergy(self, patient_id: str, allergy: Mapping[str, Any], by: str) -> str:
        """Add an allergy entry."""
        return await self._entry(patient_id, "allergy", chart.record_allergy, allergy, by)

    async def add_note(self, patient_id: str, note: Mapping[str, Any], by: str) -> str:
        """Add a note entry."""
        return await self._entry(patient_id, "note", chart.add_note, note, by)

    async def add_diagnosis(self, patient_id: str, diagnosis: Mapping[str, Any], by: str) -> str:
        """Add a diagnosis entry (ICD-10 code and label)."""
        return await self._entry(patient_id, "diagnosis", chart.record_diagnosis, diagnosis, by)

    async def prescribe(self, patient_id: str, prescription: Mapping[str, Any], by: str) -> str:
        """Add a prescription entry."""
        return await self._entry(patient_id, "prescribe", chart.prescribe, prescription, by)

    async def order_lab(self, patient_id: str, order: Mapping[str, Any], by: str) -> str:
        """Add a lab order entry."""
        return await self._entry(patient_id, "order_lab", chart.order_lab, order, by)

    async def record_lab_result(self, patient_id: str, result: Mapping[str, Any], by: str) -> str:
        """Add a lab result answering an order (NotFound when the order is not in the chart)."""
        return await self._entry(patient_id, "lab_result", chart.record_lab_result, result, by)

    async def void_entry(self, patient_id: str, entry_id: str, reason: str, by: str) -> None:
        """Mark an entry as entered in error (kept and shown struck through)."""
        await self.clinic.chart_op(
            patient_id, "void",
            lambda doc, author, eid: chart.void_entry(doc, entry_id, reason, author, eid),
            self.writer(by),
        )

    async def dispense(self, patient_id: str, dispense: Mapping[str, Any], by: str) -> str:
        """Record a dispensation on the chart and −quantity on the stock ledger, together."""
        return await self.clinic.dispense(patient_id, dispense, self.writer(by))

    async def resolve_review(self, item_id: str, value: str, note: str, by: str) -> None:
        """Keep `value` for the field and record who chose it and why (a note on the chart)."""
        rows = await self.store.worklist(REVIEWS, limit=MAX_REVIEW_ITEMS)
        row = next((r["row"] for r in rows if r["key"] == item_id), None)
        if row is None:
            raise NotFound("this review item is already resolved", field="item_id")
        choice = choice_for(row, await self.names(), value)
        if choice is None:
            raise ValidationError("choose one of the values shown", field="value")
        why = text(note, "note")
        patient_id = str(row["patient_id"])
        field = str(row.get("field") or row.get("entry_kind") or "entry")
        note_id = new_id()

        def resolve(doc: Doc, author: Author, write_id: str) -> None:
            chart.resolve_review(doc, item_id, choice, author, write_id)
            chart.add_note(doc, {"text": f"Review of {field}: kept {value}. {why}"}, author,
                           note_id)

        await self.clinic.chart_op(patient_id, "review", resolve, self.writer(by))
