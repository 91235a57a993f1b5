"""A peer's batch as Documents stores it, and the charts in it this device has never seen.

A bulk sync brings thousands of charts this device lacks. Each is checked on its own
(`check_new_chart`: loaded once, history walked once, read whole once for the arrival rules of
crdt_model.arrival and every projection) and stored exactly as received: no Doc is kept, none
is saved again. For a big batch that pure CPU work runs in worker processes
(meshd.ingest_pool), which also verify the offered signatures with keys this process gives;
whether they prove the changes is still decided here (meshd.attest) before anything is
stored. Every other item is merged as before (meshd.remote_changes). Must not accept anything
the in-process path refuses.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crdt_model.adapter import ChangeInfo, Doc, attribution
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.disclosures import new_disclosures
from crdt_model.errors import CorruptDocument
from crdt_model.ids import CHART, parse_doc_id
from meshd.attest import NotYetProven, Offered, Verified, offered_keys, verify_offered
from meshd.remote_changes import (
    MAX_AUDIT_AUTHORS,
    MAX_DOC_BYTES,
    MERGE_SLICE_DOCS,
    SIZE_CHECK_BYTES,
    Check,
    Merged,
    Trial,
    merge_items,
)
from meshd.store.base import AuditEvent, DocWrite, Projections

if TYPE_CHECKING:  # meshd.sync imports the network stack: not in an ingest worker
    from meshd.ingest_pool import IngestPool
    from meshd.sync.ports import ApplyResult

# Fewer new charts than this are checked in-process: a pushed chart must not wait on a worker.
MIN_POOL_DOCS = 8
Projector = Callable[[str, Doc], "Projections | None"]
Item = tuple[int, str, bytes]  # (index in the peer's batch, doc id, bytes)
WriteFor = Callable[[str, Doc, Trial], DocWrite]
NewChart = tuple[str, bytes, tuple[Offered, ...]]  # (doc id, bytes, offered signatures)


@dataclass(frozen=True, slots=True)
class Checked:
    """A new chart that passed the arrival rules: what storing it as received needs."""

    heads: tuple[bytes, ...]
    new: tuple[ChangeInfo, ...]  # every change, for meshd.attest to prove
    authors: str  # device/user prefixes of its changes, for the audit row
    summary: str
    disclosures: tuple[Mapping[str, Any], ...]
    projections: Projections | None
    verified: tuple[Verified, ...] = ()  # offered signatures verified by the worker


@dataclass(frozen=True, slots=True)
class Refused:
    """A new chart refused by the arrival rules (or unreadable): why."""

    reason: str
    rule: bool  # True: RefusedChange (a rule broken), False: CorruptDocument (bad bytes)

    def error(self) -> CorruptDocument:
        """The exception the in-process path would have raised."""
        return RefusedChange(self.reason) if self.rule else CorruptDocument(self.reason)


def check_new_chart(doc_id: str, data: bytes, actor: bytes, project: Projector,
                    offered: Sequence[Offered] = ()) -> Checked:
    """Load a chart this device lacks from a peer's bytes, check it and project it, and verify
    the `offered` signatures; RefusedChange or CorruptDocument if it may not be stored. Pure:
    runs in a worker or in-process. Whether the signatures prove it is decided by the caller."""
    limit = MAX_DOC_BYTES[CHART]
    if len(data) > limit:
        raise RefusedChange(f"{doc_id} is over the {limit // 1024} KiB limit for a chart")
    doc = Doc.load(data, actor=actor)
    new = doc.history()
    with doc.shared_reads(keep=False):  # one reading for the rules and every projection
        summary = check_arrival(doc_id, None, doc, {c.actor for c in new})
        disclosures = tuple(new_disclosures(None, doc))
        projections = project(doc_id, doc)
    if len(data) > SIZE_CHECK_BYTES and len(doc.save()) > limit:
        raise RefusedChange(f"{doc_id} would grow over the {limit // 1024} KiB limit")
    authors = sorted({"/".join(attribution(c.actor)) for c in new})[:MAX_AUDIT_AUTHORS]
    return Checked(tuple(doc.heads()), tuple(new), ",".join(authors), summary, disclosures,
                   projections, verify_offered(doc_id, offered))


def check_new_charts(
    items: Sequence[NewChart], actor: bytes, project: Projector
) -> list[Checked | Refused]:
    """`check_new_chart` of each (doc id, bytes, offered signatures); a refusal as a `Refused`
    (exceptions of this project do not all survive pickling)."""
    outcome: list[Checked | Refused] = []
    for doc_id, data, offered in items:
        try:
            outcome.append(check_new_chart(doc_id, data, actor, project, offered))
        except RefusedChange as exc:
            outcome.append(Refused(exc.message, True))
        except CorruptDocument as exc:
            outcome.append(Refused(exc.message, False))
    return outcome


def poolable(doc_id: str) -> bool:
    """Whether a document this device lacks may be checked in the worker (charts only: other
    kinds have a genesis here, and a directory's authority is checked against this roster)."""
    return parse_doc_id(doc_id)[0] == CHART


async def batch_writes(
    tried: Sequence[Item], trials: dict[str, Trial], check: Check, results: list[ApplyResult],
    origin: str, now_s: float, pool: IngestPool, write_for: WriteFor,
) -> tuple[list[DocWrite], list[AuditEvent], list[tuple[str, Doc]]]:
    """The writes and audit rows of a peer's batch, and the merged documents to cache.

    Charts this device lacks, each brought whole by one item, are checked on their own
    (`check_new`: no Doc kept, stored as received); every other item is merged into its trial
    (meshd.remote_changes) and written by `write_for`. `results` as in merge_items."""
    fresh, rest = split_new(tried, trials)
    writes, audit = await check_new(fresh, check, results, origin, now_s, pool)
    audit += await merge_items(rest, trials, check, results, origin, now_s)
    gained = [(doc_id, t.doc, t) for doc_id, t in trials.items()
              if t.doc is not None and (t.doc.heads() != t.base or not t.stored)]
    for n, (doc_id, doc, trial) in enumerate(gained):
        if n and not n % MERGE_SLICE_DOCS:
            await asyncio.sleep(0)
        writes.append(write_for(doc_id, doc, trial))
    return writes, audit, [(doc_id, doc) for doc_id, doc, _ in gained]


def split_new(tried: Sequence[Item], trials: Mapping[str, Trial]) -> tuple[list[Item], list[Item]]:
    """(charts unknown here that one item brings whole, the other items)."""
    once = Counter(doc_id for _, doc_id, _ in tried)
    fresh: list[Item] = []
    rest: list[Item] = []
    for item in tried:
        _, doc_id, data = item
        new = trials[doc_id].doc is None and once[doc_id] == 1 and data and poolable(doc_id)
        (fresh if new else rest).append(item)
    return fresh, rest


async def check_new(
    fresh: Sequence[Item], check: Check, results: list[ApplyResult], origin: str, now_s: float,
    pool: IngestPool,
) -> tuple[list[DocWrite], list[AuditEvent]]:
    """New charts checked (in the workers when the batch is big enough, else here, a slice at
    a time), proven here (meshd.attest), and written as received; their writes and audit."""
    keys_for = check.attestor.keys_for if check.attestor is not None else None
    pooled = None
    if len(fresh) >= MIN_POOL_DOCS:  # the workers verify signatures too, with keys from here
        pooled = await pool.check([(doc_id, data, offered_keys(keys_for, check.offered.get(
            doc_id, ())) if keys_for is not None else ()) for _, doc_id, data in fresh],
            check.actor)
    outcome = pooled or []
    if pooled is None:
        for start in range(0, len(fresh), MERGE_SLICE_DOCS):
            if start:
                await asyncio.sleep(0)
            outcome += check_new_charts([(doc_id, data, ()) for _, doc_id, data in
                                         fresh[start:start + MERGE_SLICE_DOCS]],
                                        check.actor, pool.project)
    writes: list[DocWrite] = []
    audit: list[AuditEvent] = []
    for (index, doc_id, data), checked in zip(fresh, outcome, strict=True):
        if isinstance(checked, Refused):
            results[index] = checked.error()
            continue
        try:
            with check.attestor.verified(checked.verified) if check.attestor else nullcontext():
                proven = check.prove(doc_id, checked.new)
        except CorruptDocument as exc:
            results[index] = exc
            continue
        except NotYetProven:
            continue  # stored once the rest arrives, as in merge_items
        results[index] = True
        audit += Merged(None, checked.authors, checked.summary, proven,
                        checked.disclosures).audit_rows(doc_id, origin, now_s)
        writes.append(DocWrite(doc_id, data, checked.heads, checked.projections, True, proven))
    return writes, audit
