"""Patient charts: registration, demographics, duplicate links and the search row.

This is the front door to chart operations: it re-exports the entry operations (entries.py),
the view (chart_view.py), the review queue (review.py) and dispensing (dispense.py), so callers
import one module. All functions are pure: ids, today's date and the Author are arguments.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from crdt_model import patient_number, validate
from crdt_model.adapter import Doc, Tx
from crdt_model.chart_doc import (
    MERGE_LINK,
    append_entry,
    chart_root,
    entries_of,
    field_heads,
    merged_into,
    put_demographic,
)
from crdt_model.chart_view import chart_view
from crdt_model.context import Author
from crdt_model.dispense import dispense
from crdt_model.entries import (
    add_note,
    cancel_prescription,
    close_encounter,
    correct_entry,
    open_encounter,
    order_lab,
    prescribe,
    record_allergy,
    record_consultation,
    record_diagnosis,
    record_lab_result,
    record_triage,
    refer,
    void_entry,
)
from crdt_model.errors import ConflictError, ValidationError
from crdt_model.ids import CHART, SCHEMA_VERSION, chart_id, check_entry_id, check_uuid
from crdt_model.review import resolve_review, review_items

__all__ = [
    "add_note", "cancel_prescription", "chart_view", "close_encounter", "correct_entry",
    "dispense", "link_duplicate", "open_encounter", "order_lab", "patient_row", "prescribe",
    "record_allergy", "record_consultation", "record_diagnosis", "record_lab_result",
    "record_triage", "refer",
    "register_patient", "resolve_review", "review_items", "update_demographics", "void_entry",
]

ROW_FIELDS = (
    "given_name", "family_name", "sex", "birth_date", "birth_date_estimated", "phone", "village",
    "national_id", "clinic_id",
)


def register_patient(
    patient_id: str, data: object, author: Author, today: date | str, number: str | None = None
) -> Doc:
    """A new chart for `patient_id` (with its short `number`, written once: see
    `crdt_model.patient_number`); its first change creates every container it will need."""
    pid = check_uuid(patient_id)
    clean = validate.registration(data, today)
    if number is not None and patient_number.parse(number) is None:
        raise ValidationError("not a patient number with a right check character", field="number")
    doc = Doc.new(author.actor)

    def build(tx: Tx) -> None:
        tx.update((), {
            "schema": SCHEMA_VERSION, "type": CHART, "id": chart_id(pid), "patient_id": pid,
            "demographics": {}, "demographic_writes": {}, "entries": {},
            **({"number": number} if number is not None else {}),
        })
        for name, value in clean.items():
            put_demographic(tx, {}, name, value, f"registration.{name}", author)

    doc.change(build)
    return doc


def update_demographics(
    doc: Doc, data: object, author: Author, write_id: str, today: date | str
) -> list[bytes]:
    """Write changed demographic fields; each write records the heads of its field it saw.

    A value equal to the one shown, on a field without a conflict, is not written again (the
    heads are returned unchanged); on a conflicted field it is written, settling the conflict.
    """
    check_entry_id(write_id, "write_id")
    clean = validate.demographics_update(data, today)
    root = chart_root(doc)
    writes = root.get("demographic_writes")
    taken = set(writes) if isinstance(writes, dict) else set()
    current = root.get("demographics")
    shown = current if isinstance(current, dict) else {}
    changed = {
        k: v for k, v in clean.items()
        if shown.get(k) != v or len(field_heads(root, k)) > 1
    }
    if not changed:
        return doc.heads()
    ids = {name: f"{write_id}.{name}" for name in changed}
    if taken & set(ids.values()):
        raise ConflictError(f"write {write_id!r} already exists", field="write_id")
    doc.set_actor(author.actor)

    def build(tx: Tx) -> None:
        for name, value in changed.items():
            put_demographic(tx, root, name, value, ids[name], author)

    return doc.change(build)


def link_duplicate(
    duplicate: Doc, survivor: Doc, author: Author, entry_id: str
) -> tuple[list[bytes], list[bytes]]:
    """Record that `duplicate` is the same patient as `survivor`; both charts keep all entries."""
    dup_root, surv_root = chart_root(duplicate), chart_root(survivor)
    dup_id, surv_id = str(dup_root.get("id")), str(surv_root.get("id"))
    if dup_id == surv_id:
        raise ValidationError("a chart can't be merged into itself", field="survivor")
    if merged_into(dup_root) is not None:
        raise ConflictError("this chart is already merged into another", field="duplicate")
    if merged_into(surv_root) is not None:
        raise ConflictError("the surviving chart is itself merged away", field="survivor")
    check_entry_id(entry_id)
    for root in (dup_root, surv_root):
        if entry_id in entries_of(root):
            raise ConflictError(f"entry {entry_id!r} already exists", field="entry_id")
    dup_heads = append_entry(
        duplicate, entry_id, MERGE_LINK, {"relation": "merged_into", "other": surv_id}, author
    )
    surv_heads = append_entry(
        survivor, entry_id, MERGE_LINK, {"relation": "merged_from", "other": dup_id}, author
    )
    return dup_heads, surv_heads


def patient_row(doc: Doc) -> dict[str, Any]:
    """The search projection of a chart: id, number, names, sex, birth date, ids, merged_into.

    Tolerant of any stored document (a peer's may lack fields or hold odd values): a field is
    text or None, the birth date a valid ISO day or None, never an error.
    """
    root = doc.to_dict()
    demographics = root.get("demographics")
    shown = demographics if isinstance(demographics, dict) else {}
    patient = _text(root.get("patient_id"))
    row: dict[str, Any] = {"id": patient or str(root.get("id")).split(":")[-1]}
    row.update({k: _text(shown.get(k)) for k in ROW_FIELDS})
    row["birth_date"] = _day(row["birth_date"])
    row["birth_date_estimated"] = shown.get("birth_date_estimated") is True
    row["merged_into"] = merged_into(root)
    row["number"] = _text(root.get("number"))
    return row


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _day(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value is not None else None
    except ValueError:
        return None
