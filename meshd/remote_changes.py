"""A peer's changes merged into a copy of a document and checked, before Documents stores them.

The copy must keep its kind's rules (crdt_model.arrival) and size limit, else RefusedChange
and nothing is stored; what the changes did and who they claim as authors go to the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crdt_model.adapter import ChangeInfo, Doc, attribution
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.authority import check_authority
from crdt_model.disclosures import new_disclosures
from crdt_model.errors import CorruptDocument, ValidationError
from crdt_model.ids import CHART, DIRECTORY, FACILITY, QUEUE, parse_doc_id
from meshd.attest import Attestor, NotYetProven
from meshd.store.base import Attestation, AuditEvent

if TYPE_CHECKING:  # meshd.sync imports the network stack: not in an ingest worker
    from meshd.sync.ports import ApplyResult

# The largest document a peer may hand us, by kind (attachments never live in documents).
MAX_DOC_BYTES = {
    CHART: 2 * 1024 * 1024, QUEUE: 1024 * 1024, DIRECTORY: 1024 * 1024,
    FACILITY: 16 * 1024 * 1024,
}
RELAY_PULLED_BY = "relay_pulled_by"  # audit action of a disclosure reaching a device
# Above this many incoming bytes the merged document is saved once to measure it.
SIZE_CHECK_BYTES = 64 * 1024
MAX_AUDIT_AUTHORS = 8
# A peer's batch is checked this many documents at a time, the event loop free in between
# (so the API and the WebSocket heartbeats answer during a bulk sync).
MERGE_SLICE_DOCS = 32


@dataclass(frozen=True, slots=True)
class Merged:
    doc: Doc | None  # the merged copy, or the document given when nothing was new
    authors: str = ""  # device/user prefixes of the new changes (proven when signed)
    summary: str = ""  # what they did (crdt_model.arrival)
    attestations: tuple[Attestation, ...] = ()  # the signatures that proved them
    disclosures: tuple[Mapping[str, Any], ...] = ()  # new disclosure entries of a chart


    def audit_rows(self, doc_id: str, origin: str, now_s: float) -> list[AuditEvent]:
        """The `remote_write` audit row of these changes from peer `origin` (none if none)."""
        if not self.summary:
            return []
        at = int(now_s * 1000)
        # A pull of this chart by another clinic, written by the relay (crdt_model.disclosures).
        pulls = [AuditEvent(at, self.authors, RELAY_PULLED_BY, doc_id, origin,
                            f"by {d.get('clinic')} ({d.get('action')}) at {d.get('at')}"[:500])
                 for d in self.disclosures]
        return [AuditEvent(at, self.authors, "remote_write", doc_id, origin, self.summary),
                *pulls]


@dataclass(slots=True)
class Trial:
    """A copy of a document that a batch of a peer's changes is tried on."""

    doc: Doc | None  # None while the document is unknown here
    base: list[bytes]  # its heads before the batch
    stored: bool  # whether the store holds it (else it is a genesis made here)
    received: bytes = b""  # when it was new here, the whole of it as the peer sent it
    attestations: list[Attestation] = field(default_factory=list)  # proving what it gained


def valid_items(items: Sequence[tuple[str, bytes]], results: list[ApplyResult]) -> list[int]:
    """Indexes of the items with a well-formed doc id; the others' results say why not."""
    valid = []
    for index, (doc_id, _) in enumerate(items):
        try:
            parse_doc_id(doc_id)
            valid.append(index)
        except ValidationError as exc:
            results[index] = CorruptDocument(exc.message, field="doc_id")
    return valid


async def merge_items(
    items: Sequence[tuple[int, str, bytes]], trials: dict[str, Trial], check: Check,
    results: list[ApplyResult], origin: str, now_s: float,
) -> list[AuditEvent]:
    """Merge each (result index, doc id, data) into its trial; returns the audit rows.

    `results[index]` becomes True if the document gained changes, False if nothing was new,
    or the CorruptDocument that refused the item (which then changes nothing). The event loop
    is free every MERGE_SLICE_DOCS items.
    """
    audit: list[AuditEvent] = []
    for n, (index, doc_id, data) in enumerate(items):
        if n and not n % MERGE_SLICE_DOCS:
            await asyncio.sleep(0)
        trial = trials[doc_id]
        try:
            merged = merge_remote(doc_id, trial.doc, data, check)
        except CorruptDocument as exc:
            results[index] = exc
            continue
        except NotYetProven:
            continue  # nothing new for now, as for chunks whose parents are missing
        results[index] = merged.doc is not trial.doc
        audit += merged.audit_rows(doc_id, origin, now_s)
        # Stored as received (not saved again) only when one item made the whole document.
        trial.received = data if trial.doc is None and merged.doc is not None else b""
        trial.doc = merged.doc
        trial.attestations += merged.attestations
    return audit


def merge_remote(doc_id: str, doc: Doc | None, data: bytes, check: Check) -> Merged:
    """`doc` plus `data`, checked; `doc` itself is never changed.

    The merged document must keep its kind's rules (crdt_model.arrival) and size limit, and
    `check` must prove who wrote the new changes (meshd.attest), else RefusedChange: a peer's
    changes are checked before anything is stored.
    """
    if not data:
        return Merged(doc)
    kind, _ = parse_doc_id(doc_id)
    limit = MAX_DOC_BYTES.get(kind, MAX_DOC_BYTES[CHART])
    if len(data) > limit:
        raise RefusedChange(f"{doc_id} is over the {limit // 1024} KiB limit for a {kind}")
    if doc is None:
        merged = Doc.load(data, actor=check.actor)
    else:
        merged = doc.fork(check.actor)  # a panic poisons only this copy
        if not merged.apply(data):
            return Merged(doc)
    new = merged.history(doc.heads() if doc is not None else ())
    with merged.shared_reads():
        summary = check_arrival(doc_id, doc, merged, {c.actor for c in new})
        disclosures = tuple(new_disclosures(doc, merged)) if kind == CHART else ()
        if kind == DIRECTORY and check.attestor is not None and check.attestor.keys_for:
            check_authority(doc_id, merged, doc.heads() if doc is not None else (),
                            doc.to_dict() if doc is not None else None)
    if len(data) > SIZE_CHECK_BYTES and len(merged.save()) > limit:
        raise RefusedChange(f"{doc_id} would grow over the {limit // 1024} KiB limit")
    proven = check.prove(doc_id, new)
    authors = sorted({"/".join(attribution(c.actor)) for c in new})[:MAX_AUDIT_AUTHORS]
    return Merged(merged, ",".join(authors), summary, proven, disclosures)


@dataclass(frozen=True, slots=True)
class Check:
    """How a batch of a peer's changes is proven: the Attestor (None where no roster is known
    yet: a data dir provisioned from an invite or pairing, before its node runs) and the
    attestations the peer offered, by document."""

    actor: bytes  # the actor this device merges with
    attestor: Attestor | None = None
    offered: Mapping[str, Sequence[Attestation]] = field(default_factory=dict)

    def prove(self, doc_id: str, new: Sequence[ChangeInfo]) -> tuple[Attestation, ...]:
        """The attestations proving `new`, or RefusedChange."""
        if self.attestor is None:
            return tuple(self.offered.get(doc_id, ()))
        return self.attestor.check(doc_id, new, self.offered.get(doc_id, ()))


async def finished(work: Awaitable[None]) -> bool:
    """Await `work` to its end even when the caller is cancelled meanwhile; whether it was
    (a batch handed to the store is stored, then cached and announced, whatever the session)."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        return True
    return False
