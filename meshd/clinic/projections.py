"""What the store derives from each document: genesis of derived documents and read-model rows.

`Documents` calls `genesis_for(device)` for a facility, queue or directory document it has not
seen yet, and `project(doc_id, doc)` after every change, in the same transaction as the bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from crdt_model import chart, directory, facility, queue, worklists
from crdt_model.adapter import Doc
from crdt_model.attachments import chart_attachments
from crdt_model.consultation import follow_ups
from crdt_model.context import Author
from crdt_model.ids import CHART, DIRECTORY, FACILITY, QUEUE, parse_doc_id
from meshd.store.base import Projections, WorklistRow

# The worklists a chart projects into (ReadModel.worklist kinds).
LAB_ORDERS = "lab_order"
PRESCRIPTIONS = "prescription"
REVIEWS = "review"
VISITS = "visit"
ATTACHMENTS = "attachment"  # every live reference: which blobs this device should hold
FOLLOW_UPS = "follow_up"  # patients expected back on a day (sort key: the day)


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
    rows += [
        WorklistRow(ATTACHMENTS, a["id"], a["at"],
                    {"sha256": a["sha256"], "size": a.get("size"), **patient})
        for a in chart_attachments(doc)
    ]
    rows += [
        WorklistRow(FOLLOW_UPS, f["consultation_id"], f["day"],
                    {**f, **patient, "number": row.get("number")})
        for f in follow_ups(doc)
    ]
    return rows


def _ats(candidates: list[dict[str, Any]]) -> list[int]:
    return [c["at"] for c in candidates if isinstance(c.get("at"), int)]


def project(doc_id: str, doc: Doc) -> Projections | None:
    """The Documents projection hook: search row and worklists, queue rows or stock levels."""
    kind, _ = parse_doc_id(doc_id)
    if kind == CHART:
        with doc.shared_reads():
            return Projections(patient=chart.patient_row(doc), worklists=chart_worklists(doc))
    if kind == FACILITY:
        return Projections(stock=facility.stock_levels(doc))
    if kind == QUEUE:
        return Projections(queue=queue.queue_rows(doc))
    return None
