"""A peer's new charts checked and projected in a worker process, while this one stores.

A bulk sync brings thousands of charts this device has never seen. Checking one (load it, walk
its history, the arrival rules of crdt_model.arrival, its projections) is pure CPU work on
bytes, so `IngestPool` runs it in one worker process (the second core) and hands back only
what the store needs: heads, the new changes (for meshd.attest, which proves them here, with
the roster this process holds), the audit summary and the projection rows. The bytes are then
stored exactly as received. Nothing is stored by the worker; a refusal comes back as a reason.
The pool starts on first use and ends after IDLE_S without work, so an idle node keeps no
second process. Must not decide anything the in-process path (meshd.remote_changes) does not.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from crdt_model.adapter import ChangeInfo, Doc, attribution
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.disclosures import new_disclosures
from crdt_model.errors import CorruptDocument
from crdt_model.ids import CHART, parse_doc_id
from meshd.attest import NotYetProven, Offered, Verified, offered_keys, verify_offered
from meshd.lifecycle import Lifecycle
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
from meshd.sync.ports import ApplyResult

log = logging.getLogger(__name__)

IDLE_S = 60.0  # the worker ends after this long without a batch
PARENT_POLL_S = 1.0  # how often a worker checks that the node's process is still there
# Fewer new charts than this are checked in-process: a pushed chart must not wait on a worker.
MIN_POOL_DOCS = 8
# Two workers on a machine of two cores or more: this process only decodes, proves and stores.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))
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
    with doc.shared_reads():  # one materialization for the rules and every projection
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


class IngestPool(Lifecycle):
    """Worker processes that check new charts. The first batch starts them; until they are up
    (a second or two: a fresh interpreter imports the project) `check` answers None and the
    caller checks in-process, so a sync never waits on a starting worker."""

    def __init__(self, project: Projector, *, idle_s: float = IDLE_S,
                 workers: int = DEFAULT_WORKERS) -> None:
        self.project = project
        self._idle_s = idle_s
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._ready = False
        self._warming: asyncio.Future[list[None]] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._ending: asyncio.Task[None] | None = None
        self._running = 0
        self._stopped = False

    async def start(self) -> None:
        """Nothing to open: the workers start with the first batch."""
        self._stopped = False

    async def stop(self) -> None:
        """End the workers (waiting for their current batches); safe twice."""
        self._stopped = True
        await self._shutdown()

    @property
    def active(self) -> bool:
        """Whether worker processes are up and taking batches."""
        return self._pool is not None and self._ready

    async def check(
        self, items: Sequence[NewChart], actor: bytes
    ) -> list[Checked | Refused] | None:
        """`check_new_charts(items)` in a worker; None while no worker is ready (it starts),
        or when this pool has none (`workers=0`: every batch is checked in-process)."""
        if self._stopped or not self._workers or not items:
            return None
        loop = asyncio.get_running_loop()
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._pool is None:
            self._start_pool(loop)
        pool = self._pool
        if pool is None or not self._ready:
            self._idle_later(loop)
            return None
        self._running += 1
        try:
            return await loop.run_in_executor(pool, check_new_charts, list(items), actor,
                                              self.project)
        except BrokenProcessPool:
            log.warning("an ingest worker ended; checking in this process")
            if self._pool is pool:
                self._pool, self._ready = None, False
            return None
        finally:
            self._running -= 1
            self._idle_later(loop)

    def _start_pool(self, loop: asyncio.AbstractEventLoop) -> None:
        # spawn: a fork of a process with running threads (the store's) may deadlock.
        pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_follow_parent, initargs=(os.getpid(),))
        self._pool, self._ready = pool, False
        warm = [loop.run_in_executor(pool, _warm) for _ in range(self._workers)]
        warming = self._warming = asyncio.ensure_future(asyncio.gather(*warm))
        warming.add_done_callback(lambda done: self._warmed(pool, done))

    def _warmed(self, pool: ProcessPoolExecutor, done: asyncio.Future[Any]) -> None:
        if self._pool is pool and not done.cancelled() and done.exception() is None:
            self._ready = True

    def _idle_later(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._running and self._pool is not None and not self._stopped:
            if self._idle is not None:
                self._idle.cancel()
            self._idle = loop.call_later(self._idle_s, self._idle_out)

    def _idle_out(self) -> None:
        self._idle = None
        if not self._running:
            self._ending = asyncio.get_running_loop().create_task(self._shutdown())

    async def _shutdown(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        pool, self._pool, self._ready = self._pool, None, False
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


def _warm() -> None:
    """Run in each new worker: by now it has imported what checking needs."""


def _follow_parent(parent: int) -> None:
    """In each worker: end it when the node's process is gone (a SIGKILL, a power cut of the
    parent alone), else it would wait on its queue forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
