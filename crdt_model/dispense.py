"""Dispensing: one act that writes two documents, the patient's chart and the facility's ledger.

Both are checked before either is written, so bad input changes neither. The chart gets a
`dispensation` entry linking the prescription and naming the ledger entry; the facility gets a
negative `dispense` ledger entry whose `ref` names the chart entry.
"""

from __future__ import annotations

from crdt_model import facility as fac
from crdt_model.adapter import Doc
from crdt_model.chart_doc import (
    DISPENSATION,
    append_entry,
    chart_root,
    entries_of,
    require_entry,
    require_live,
    status_of,
)
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound
from crdt_model.ids import check_entry_id
from crdt_model.rules import dispense_input


def dispense(
    chart: Doc, facility: Doc, data: object, author: Author, entry_id: str, ledger_id: str
) -> tuple[list[bytes], list[bytes]]:
    """Dispense {prescription_id, drug_id, quantity, note?}; returns both docs' new heads."""
    clean = dispense_input(data)
    check_entry_id(entry_id)
    check_entry_id(ledger_id, "ledger_id")
    root = chart_root(chart)
    entries = entries_of(root)
    prescription_id = clean["prescription_id"]
    prescribed = require_entry(entries, prescription_id, "prescription_id", ("prescription",))
    status = status_of(entries)
    require_live(status, prescription_id, "prescription_id")
    if prescription_id in status.cancelled_by:
        raise ConflictError("this prescription was cancelled", field="prescription_id")
    if entry_id in entries:
        raise ConflictError(f"entry {entry_id!r} already exists", field="entry_id")
    facility_root = facility.to_dict()
    drugs = facility_root.get("drugs")
    if not isinstance(drugs, dict) or clean["drug_id"] not in drugs:
        raise NotFound(f"drug {clean['drug_id']!r} is not in the catalogue", field="drug_id")
    if prescribed.get("drug_id") not in (None, clean["drug_id"]):
        raise ConflictError(  # a catalogue prescription is given as written, nothing else
            f"the prescription is for {prescribed.get('drug')}: dispense that medicine",
            field="drug_id")
    ledger = facility_root.get("ledger")
    if isinstance(ledger, dict) and ledger_id in ledger:
        raise ConflictError(f"ledger entry {ledger_id!r} already exists", field="ledger_id")
    fields = {**clean, "facility": str(facility_root.get("id")), "ledger_id": ledger_id}
    chart_heads = append_entry(chart, entry_id, DISPENSATION, fields, author)
    ref = f"{root.get('id')}/{entry_id}"
    facility_heads = fac.record_dispense(
        facility, clean["drug_id"], clean["quantity"], ref, author, ledger_id
    )
    return chart_heads, facility_heads
