"""Clinical acts on a chart: encounters, triage, allergies, notes, diagnoses, voids, corrections,
and the review queue of concurrent edits of critical fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crdt_model import chart, rules
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import NotFound, ValidationError
from crdt_model.validate import text
from meshd.clinic import actions
from meshd.clinic.base import Caller, fields, new_id
from meshd.clinic.flow import DONE, Flow
from meshd.clinic.projections import REVIEWS

EntryOp = Callable[[Doc, Any, Author, str], object]
Check = Callable[[object], object]
# Review items are few (concurrent edits of critical fields); one page holds them all.
MAX_REVIEW_ITEMS = 500
_SUMMARY_KEYS = ("label", "drug", "test", "substance", "text", "category", "value", "reason")
# A placeholder encounter, so input is checked before a patient is checked in for it.
_CHECKING = "00000000-0000-4000-8000-000000000000"
_QUEUED = ("registration", "triage", "consultation", "lab", "pharmacy")


def summary(kind: str, data: Mapping[str, Any]) -> str:
    """A one-line description of an entry, for history and review."""
    for key in _SUMMARY_KEYS:
        if key in data:
            return f"{kind}: {data[key]}"
    return kind


def shown_value(candidate: Mapping[str, Any]) -> str:
    """What a review candidate looks like to the person choosing: a value or an entry."""
    if "entry" in candidate:
        entry = candidate["entry"] if isinstance(candidate["entry"], dict) else {}
        return summary(str(entry.get("kind")), entry)
    return str(candidate.get("value"))


class Clinical(Flow):
    """Entries on a chart, each audited under its `actions` name."""

    async def entry(self, patient_id: str, action: str, op: EntryOp, data: Mapping[str, Any],
                    caller: Caller) -> str:
        """Record `data` on the chart through `op(doc, data, author, id)`; returns the id."""
        payload = fields(data)
        return await self.chart_op(
            patient_id, action, lambda doc, author, eid: op(doc, payload, author, eid), caller
        )

    async def visit_entry(self, patient_id: str, action: str, op: EntryOp, check: Check,
                          data: Mapping[str, Any], caller: Caller) -> str:
        """An entry of today's visit: checked by `check`, linked to an encounter, recorded."""
        check({"encounter_id": _CHECKING, **data})  # bad input checks nobody in
        return await self.entry(patient_id, action, op,
                                await self.in_visit(patient_id, data, caller), caller)

    async def open_encounter(self, patient_id: str, data: Mapping[str, Any], caller: Caller,
                             ) -> str:
        """Open an encounter (a visit) on the chart."""
        await self.allow(caller, "triage")
        return await self.entry(patient_id, actions.OPEN_ENCOUNTER, chart.open_encounter, data,
                                caller)

    async def close_encounter(self, patient_id: str, encounter_id: str, caller: Caller) -> str:
        """Close an open encounter; returns its id."""
        await self.allow(caller, "consult")
        await self.chart_op(
            patient_id, actions.CLOSE_ENCOUNTER,
            lambda doc, author, _new: chart.close_encounter(doc, encounter_id, author), caller,
        )
        return encounter_id

    async def record_triage(self, patient_id: str, data: Mapping[str, Any], caller: Caller,
                            ) -> str:
        """Record vitals, category and danger signs; the patient goes on to consultation."""
        await self.allow(caller, "triage")
        entry_id = await self.visit_entry(patient_id, actions.TRIAGE, chart.record_triage,
                                          rules.triage_entry, data, caller)
        await self.advance(patient_id, _QUEUED, "consultation", caller)
        return entry_id

    async def add_allergy(self, patient_id: str, data: Mapping[str, Any], caller: Caller) -> str:
        """Record an allergy."""
        await self.allow(caller, "triage")
        return await self.entry(patient_id, actions.ALLERGY, chart.record_allergy, data, caller)

    async def add_note(self, patient_id: str, data: Mapping[str, Any], caller: Caller) -> str:
        """Add a clinical note."""
        await self.allow(caller, "consult")
        return await self.entry(patient_id, actions.NOTE, chart.add_note, data, caller)

    async def add_diagnosis(self, patient_id: str, data: Mapping[str, Any], caller: Caller,
                            ) -> str:
        """Record an ICD-10 diagnosis in today's visit."""
        await self.allow(caller, "consult")
        return await self.visit_entry(patient_id, actions.DIAGNOSIS, chart.record_diagnosis,
                                      rules.diagnosis_entry, data, caller)

    async def void_entry(self, patient_id: str, entry_id: str, reason: str, caller: Caller,
                         ) -> str:
        """Mark an entry as entered in error (kept, shown struck through); returns the void."""
        await self.allow(caller, "consult")
        return await self.chart_op(
            patient_id, actions.VOID,
            lambda doc, author, eid: chart.void_entry(doc, entry_id, reason, author, eid), caller,
        )

    async def correct_entry(self, patient_id: str, entry_id: str, data: Mapping[str, Any],
                            caller: Caller) -> str:
        """A corrected copy of an entry that supersedes it; returns the new entry's id."""
        await self.allow(caller, "consult")
        payload = fields(data)
        return await self.chart_op(
            patient_id, actions.CORRECT,
            lambda doc, author, eid: chart.correct_entry(doc, entry_id, payload, author, eid),
            caller,
        )

    async def review_rows(self) -> list[dict[str, Any]]:
        """Open review items (concurrent edits of critical fields, rival corrections)."""
        rows = await self.store.worklist(REVIEWS, limit=MAX_REVIEW_ITEMS)
        return [dict(r.row) for r in rows]

    async def resolve_review(self, item_id: str, choice: str, caller: Caller, *, note: str = "",
                             patient_id: str | None = None) -> str:
        """Keep one candidate of an open item (`choice`: its id, or its value as shown) and
        note on the chart who chose it and why; NotFound when already resolved."""
        await self.allow(caller, "review")
        row = next((r for r in await self.review_rows() if r["id"] == item_id), None)
        if row is None or patient_id not in (None, row["patient_id"]):
            raise NotFound("this review item is not open (already resolved?)", field="item_id")
        picked = next((c for c in row.get("candidates", [])
                       if choice in (c.get("choice"), shown_value(c))), None)
        if picked is None:
            raise ValidationError("choose one of the values shown", field="choice")
        why = text(note, "note") if note.strip() else ""
        field = str(row.get("field") or row.get("entry_kind") or "entry")
        said = f"Review of {field}: kept {shown_value(picked)}." + (f" {why}" if why else "")
        keep, note_id = str(picked["choice"]), new_id()

        def resolve(doc: Doc, author: Author, write_id: str) -> None:
            chart.resolve_review(doc, item_id, keep, author, write_id)
            chart.add_note(doc, {"text": said}, author, note_id)

        return await self.chart_op(str(row["patient_id"]), actions.RESOLVE_REVIEW, resolve,
                                   caller)


__all__ = ["DONE", "Clinical", "shown_value", "summary"]
