"""Clinical entries on a chart: allergies, encounters, triage, notes, diagnoses, drugs, labs.

Entries are never edited or deleted: a correction is a new entry of the same kind that
`supersedes` the old one, a void is a `void` entry naming its target, a cancelled prescription
gets a `prescription_cancel` entry. The one in-place write is closing an encounter, which adds
the `closed` stamp the encounter did not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crdt_model import rules
from crdt_model.adapter import Doc, Tx
from crdt_model.chart_doc import (
    CANCEL,
    ENTRIES,
    VOID,
    append_entry,
    chart_root,
    entries_of,
    require_chart,
    require_entry,
    require_live,
    status_of,
)
from crdt_model.context import Author
from crdt_model.errors import ConflictError
from crdt_model.ids import check_entry_id
from crdt_model.lab_tests import LAB_TESTS, judged
from crdt_model.validate import text
from crdt_model.worklists import age_on

# Kinds a correction may replace; an encounter is voided, not corrected, since entries link to it.
CORRECTABLE = ("allergy", "triage", "note", "diagnosis", "prescription", "lab_order", "lab_result",
               "consultation")


def _check_links(doc: Doc, clean: Mapping[str, Any]) -> None:
    # Read only the linked entries: a long chart is not materialised for every new entry.
    for key, kind in (("encounter_id", "encounter"), ("order_id", "lab_order")):
        if key in clean:
            linked = doc.get((*ENTRIES, clean[key]))
            require_entry({clean[key]: linked} if isinstance(linked, dict) else {},
                          clean[key], key, (kind,))


def _record(doc: Doc, kind: str, data: object, author: Author, entry_id: str) -> list[bytes]:
    clean = rules.ENTRY_RULES[kind](data)
    check_entry_id(entry_id)
    require_chart(doc)
    _check_links(doc, clean)
    return append_entry(doc, entry_id, kind, clean, author)


def record_allergy(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Record an allergy {substance, reaction?, severity?, note?}."""
    return _record(doc, "allergy", data, author, entry_id)


def open_encounter(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Open a visit {encounter_type?, chief_complaint?}; later entries link to `entry_id`."""
    return _record(doc, "encounter", data, author, entry_id)


def close_encounter(doc: Doc, encounter_id: str, author: Author) -> list[bytes]:
    """Stamp the encounter closed; ConflictError if it is already closed or voided."""
    entries = entries_of(chart_root(doc))
    encounter = require_entry(entries, encounter_id, "encounter_id", ("encounter",))
    require_live(status_of(entries), encounter_id, "encounter_id")
    if encounter.get("closed") is not None:
        raise ConflictError("this encounter is already closed", field="encounter_id")
    doc.set_actor(author.actor)

    def build(tx: Tx) -> None:
        tx.put((*ENTRIES, encounter_id), "closed", author.stamp())

    return doc.change(build)


def record_triage(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Record triage {encounter_id, category, vitals, danger_signs?, note?}."""
    return _record(doc, "triage", data, author, entry_id)


def add_note(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Add a clinical note {text, encounter_id?}."""
    return _record(doc, "note", data, author, entry_id)


def record_diagnosis(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Record a diagnosis {code (ICD-10), label, certainty?, encounter_id?}."""
    return _record(doc, "diagnosis", data, author, entry_id)


def record_consultation(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Record a consultation {presenting_complaint?, history?, examination?, plan?,
    follow_up?, encounter_id?} (crdt_model.consultation)."""
    return _record(doc, "consultation", data, author, entry_id)


def refer(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Record a referral {to, reason, encounter_id?}; the chart prints its letter."""
    return _record(doc, "referral", data, author, entry_id)


def prescribe(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Prescribe {drug, dose, dose_unit, route, frequency, duration_days, quantity?, …}."""
    return _record(doc, "prescription", data, author, entry_id)


def order_lab(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Order a lab test {test, code?, specimen?, encounter_id?}."""
    return _record(doc, "lab_order", data, author, entry_id)


def record_lab_result(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Record the result {order_id, value, unit?, interpretation?, note?} of a lab order; the
    result of a catalogue test is checked and flagged by `crdt_model.lab_tests`."""
    clean = rules.lab_result_entry(data)
    check_entry_id(entry_id)
    require_chart(doc)
    _check_links(doc, clean)
    order = doc.get((*ENTRIES, clean["order_id"]))
    test = LAB_TESTS.get(str(order.get("code"))) if isinstance(order, dict) else None
    if test is not None:
        shown = doc.get(("demographics",))
        person = shown if isinstance(shown, dict) else {}
        day = datetime.fromtimestamp(author.at_ms / 1000, UTC).date().isoformat()
        clean = judged(test, clean, person.get("sex"), age_on(person.get("birth_date"), day))
    return append_entry(doc, entry_id, "lab_result", clean, author)


def cancel_prescription(
    doc: Doc, prescription_id: str, reason: str, author: Author, entry_id: str
) -> list[bytes]:
    """Cancel a live prescription with a reason; ConflictError if cancelled or gone already."""
    clean_reason = text(reason, "reason")
    entries = entries_of(chart_root(doc))
    require_entry(entries, prescription_id, "prescription_id", ("prescription",))
    status = status_of(entries)
    require_live(status, prescription_id, "prescription_id")
    if prescription_id in status.cancelled_by:
        raise ConflictError("this prescription is already cancelled", field="prescription_id")
    fields = {"target": prescription_id, "reason": clean_reason}
    return append_entry(doc, entry_id, CANCEL, fields, author)


def void_entry(
    doc: Doc, target_id: str, reason: str, author: Author, entry_id: str
) -> list[bytes]:
    """Mark an entry as entered in error; it stays in the chart, shown as voided."""
    clean_reason = text(reason, "reason")
    entries = entries_of(chart_root(doc))
    check_entry_id(target_id, "target_id")
    target = entries.get(target_id)
    if target is None:
        require_entry(entries, target_id, "target_id", ("entry",))
    elif target.get("kind") == VOID:
        raise ConflictError("a void can't be voided; record the entry again", field="target_id")
    if status_of(entries).voided(target_id):
        raise ConflictError("this entry is already voided", field="target_id")
    fields = {"target": target_id, "reason": clean_reason}
    return append_entry(doc, entry_id, VOID, fields, author)


def correct_entry(
    doc: Doc, target_id: str, data: object, author: Author, entry_id: str
) -> list[bytes]:
    """Write a corrected copy of a live entry; the new entry supersedes the old one."""
    entries = entries_of(chart_root(doc))
    target = require_entry(entries, target_id, "target_id", CORRECTABLE)
    require_live(status_of(entries), target_id, "target_id")
    kind = str(target["kind"])
    clean = rules.ENTRY_RULES[kind](data)
    _check_links(doc, clean)
    return append_entry(doc, entry_id, kind, {**clean, "supersedes": target_id}, author)
