"""A peer's changes merged into a copy of a document and checked, before Documents stores them.

The copy must keep its kind's rules (crdt_model.arrival) and size limit, else RefusedChange
and nothing is stored; what the changes did and who they claim as authors go to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crdt_model.adapter import Doc, attribution
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.errors import CorruptDocument
from crdt_model.ids import CHART, DIRECTORY, FACILITY, QUEUE, parse_doc_id
from meshd.store.base import AuditEvent
from meshd.sync.ports import ApplyResult

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


@dataclass(slots=True)
class Trial:
    """A copy of a document that a batch of a peer's changes is tried on."""

    doc: Doc | None  # None while the document is unknown here
    base: list[bytes]  # its heads before the batch
    stored: bool  # whether the store holds it (else it is a genesis made here)
    received: bytes = b""  # when it was new here, the whole of it as the peer sent it


def merge_items(
    items: Sequence[tuple[int, str, bytes]], trials: dict[str, Trial], actor: bytes,
    results: list[ApplyResult], origin: str, now_s: float,
) -> list[AuditEvent]:
    """Merge each (result index, doc id, data) into its trial; returns the audit rows.

    `results[index]` becomes True if the document gained changes, False if nothing was new,
    or the CorruptDocument that refused the item (which then changes nothing).
    """
    audit: list[AuditEvent] = []
    for index, doc_id, data in items:
        trial = trials[doc_id]
        try:
            merged = merge_remote(doc_id, trial.doc, data, actor)
        except CorruptDocument as exc:
            results[index] = exc
            continue
        results[index] = merged.doc is not trial.doc
        audit += merged.audit_rows(doc_id, origin, now_s)
        # Stored as received (not saved again) only when one item made the whole document.
        trial.received = data if trial.doc is None and merged.doc is not None else b""
        trial.doc = merged.doc
    return audit


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
    with merged.shared_reads():
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
