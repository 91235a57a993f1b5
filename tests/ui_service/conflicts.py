"""Making a review item on the real core: concurrent writes of one field from other devices."""

from __future__ import annotations

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd.clinic import new_id
from meshd.clinic_ui.service import NodeClinicService


async def add_conflict(
    service: NodeClinicService, patient_id: str, field: str, values: list[tuple[str, str, str]]
) -> str:
    """A review item as if devices wrote (value, user, device) to a critical demographic
    `field` of the chart concurrently (each from the same stored state), synced here."""
    clinic = service.clinic
    doc_id = chart_id(patient_id)
    base = await clinic.docs.export(doc_id)
    at = clinic.now_ms() + 1  # after what is stored
    for value, user, device in values:
        author = Author(device, user, at)
        doc = Doc.load(base, author.actor)
        chart.update_demographics(doc, {field: value}, author, new_id(), clinic.today())
        await clinic.docs.apply_remote(doc_id, doc.save())
    items = [i for i in await service.review_items() if i.patient_id == patient_id]
    assert items, f"no review item for concurrent writes of {field}"
    return items[-1].id
