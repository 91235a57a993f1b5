"""A peer's changes merged into a copy of a document and checked, before Documents stores them.

The copy must keep its kind's rules (crdt_model.arrival) and size limit, else RefusedChange
and nothing is stored; what the changes did and who they claim as authors go to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from crdt_model.adapter import Doc, attribution
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.ids import CHART, DIRECTORY, FACILITY, QUEUE, parse_doc_id
from meshd.store.base import AuditEvent

# The largest document a peer may hand us, by kind (attachments never live in documents).
MAX_DOC_BYTES = {
    CHART: 2 * 1024 * 1024, QUEUE: 1024 * 1024, DIRECTORY: 1024 * 1024,
    FACILITY: 16 * 1024 * 1024,
}
# Above this many incoming bytes the merged document is saved once to measure it.
SIZE_CHECK_BYTES = 64 * 1024
MAX_AUDIT_AUTHORS = 8


@dataclass(frozen=True, slots=True)
class Merged:
    doc: Doc | None  # the merged copy, or the document given when nothing was new
    authors: str = ""  # device/user prefixes of the new changes, as their actors claim
    summary: str = ""  # what they did (crdt_model.arrival)

    def audit_rows(self, doc_id: str, origin: str, now_s: float) -> list[AuditEvent]:
        """The `remote_write` audit row of these changes from peer `origin` (none if none)."""
        if not self.summary:
            return []
        return [AuditEvent(int(now_s * 1000), self.authors, "remote_write", doc_id, origin,
                           self.summary)]


def merge_remote(doc_id: str, doc: Doc | None, data: bytes, actor: bytes) -> Merged:
    """`doc` plus `data`, checked; `doc` itself is never changed.

    The merged document must keep its kind's rules (crdt_model.arrival) and size limit, else
    RefusedChange: a peer's changes are checked before anything is stored.
    """
    if not data:
        return Merged(doc)
    kind, _ = parse_doc_id(doc_id)
    limit = MAX_DOC_BYTES.get(kind, MAX_DOC_BYTES[CHART])
    if len(data) > limit:
        raise RefusedChange(f"{doc_id} is over the {limit // 1024} KiB limit for a {kind}")
    if doc is None:
        merged = Doc.load(data, actor=actor)
    else:
        merged = doc.fork(actor)  # a panic poisons only this copy
        if not merged.apply(data):
            return Merged(doc)
    summary = check_arrival(doc_id, doc, merged)
    if len(data) > SIZE_CHECK_BYTES and len(merged.save()) > limit:
        raise RefusedChange(f"{doc_id} would grow over the {limit // 1024} KiB limit")
    # A whole new document (initial sync, a bundle) is audited without walking its history
    # for authors: that walk doubled the cost of taking in a chart.
    return Merged(merged, "" if doc is None else _authors(doc, merged), summary)


def _authors(before: Doc | None, after: Doc) -> str:
    known = {c.hash for c in before.history()} if before is not None else set()
    found = {"/".join(attribution(c.actor)) for c in after.history() if c.hash not in known}
    return ",".join(sorted(found)[:MAX_AUDIT_AUTHORS])
