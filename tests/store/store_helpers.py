"""Chart bytes for the store tests, made with the adapter (the clinical model is not needed)."""

from __future__ import annotations

import os
import uuid
from typing import Any

from crdt_model.adapter import Doc
from meshd.store.base import DocWrite, Projections

TEST_KEY = bytes(range(32))


def new_chart(
    given: str = "Amina", family: str = "Ochieng", **fields: Any
) -> tuple[Doc, DocWrite]:
    """A chart document and the write that stores it whole, with its patient row."""
    patient_id = str(uuid.uuid4())
    doc = Doc.new(os.urandom(16))
    demographics = {"given_name": given, "family_name": family, **fields}
    doc.change(lambda tx: tx.put((), "demographics", demographics))
    doc.change(lambda tx: tx.put((), "encounters", {}))
    row = {"id": patient_id, **demographics}
    write = DocWrite(
        f"chart:{patient_id}", doc.save(), tuple(doc.heads()), Projections(patient=row),
        snapshot=True,
    )
    return doc, write


def add_note(doc: Doc, doc_id: str, text: str) -> DocWrite:
    """Add an encounter note to `doc`; the write appends just the new change chunk."""
    before = doc.heads()
    entry = str(uuid.uuid4())
    doc.change(lambda tx: tx.put(("encounters",), entry, {"note": text}))
    return DocWrite(doc_id, doc.changes_since(before), tuple(doc.heads()))
