"""The Automerge sync protocol with one peer, per document, with guards against endless exchange.

A received sync message is taken into this session's *inbound* copy of the document: our
document plus the peer's changes still waiting on a dependency. Only what applied there is
handed to `apply_remote` (which checks it before it is stored); what waits stays in the copy,
so the next message we generate from it asks for the missing dependency by hash. Without the
copy, a change the peer withheld because our Bloom filter falsely claimed it would strand its
dependents: they would be recorded as delivered and never asked for again.

Guards for what no one foresaw: a document whose exchange repeats the same state for
STALL_ROUNDS messages is reset (fresh state, whole document sent) and logged once; a message
that repeats a state already answered and asks for nothing gets no reply; sync bytes per
document are bounded per minute, and a document over the bound is paused and reported.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from crdt_model import sync_message
from crdt_model.adapter import ACTOR_BYTES, Doc, PeerSyncState

log = logging.getLogger(__name__)

STALL_ROUNDS = 4
BYTES_PER_DOC_PER_MINUTE = 2 * 1024 * 1024
BUDGET_WINDOW_S = 60.0
MAX_INBOUND_DOCS = 1024

Fingerprint = tuple[tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...], bool]


@dataclass(slots=True)
class _DocState:
    state: PeerSyncState = field(default_factory=PeerSyncState)
    inbound: Doc | None = None
    last: Fingerprint | None = None
    stale: int = 0
    window_start_s: float = 0.0
    window_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Received:
    """What one sync message gave: changes to store, and whether to answer or start over."""

    gained: bytes = b""
    reply: bool = True
    reset: bool = False


class DocSync:
    """Sync-protocol state for every document exchanged with one peer."""

    def __init__(self, peer_name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._peer_name = peer_name
        self._clock = clock
        self._docs: dict[str, _DocState] = {}
        self._holding: OrderedDict[str, None] = OrderedDict()  # docs with an inbound copy
        self._logged: set[str] = set()

    def over_budget(self) -> list[str]:
        """Documents paused with this peer for exceeding BYTES_PER_DOC_PER_MINUTE."""
        now = self._clock()
        return sorted(d for d, s in self._docs.items()
                      if s.window_bytes > BYTES_PER_DOC_PER_MINUTE
                      and now - s.window_start_s < BUDGET_WINDOW_S)

    def forget(self, doc_id: str) -> None:
        """Drop what is known of the peer's copy (a fresh exchange starts next time)."""
        self._docs.pop(doc_id, None)
        self._holding.pop(doc_id, None)

    def receive(self, doc_id: str, live: Doc | None, message: bytes) -> Received:
        """Take a sync message into the inbound copy; CorruptDocument if it is bad."""
        header = sync_message.decode(message)
        entry = self._docs.setdefault(doc_id, _DocState())
        if not self._spend(entry, len(message)):
            return Received(reply=False)
        base = Doc.new(os.urandom(ACTOR_BYTES)) if live is None else live
        working = entry.inbound
        if working is None:
            working = base.fork(base.actor())
        elif live is not None:
            working.merge(live)  # what reached us by other paths meanwhile
        working.receive_sync_message(entry.state, message)
        gained = working.changes_since(base.heads())
        self._keep_inbound(doc_id, entry, working)
        seen: Fingerprint = (tuple(working.heads()), header.heads, header.need, bool(gained))
        if seen != entry.last or gained:
            entry.last, entry.stale = seen, 0
            return Received(gained)
        entry.stale += 1
        if entry.stale >= STALL_ROUNDS:
            self._stalled(doc_id)
            return Received(gained, reply=False, reset=True)
        return Received(gained, reply=not header.moves_nothing)

    def generate(self, doc_id: str, live: Doc) -> bytes | None:
        """Our next sync message for `doc_id`, or None when there is nothing to say."""
        entry = self._docs.setdefault(doc_id, _DocState())
        doc = live
        if entry.inbound is not None:
            entry.inbound.merge(live)
            doc = entry.inbound
        if self._paused(entry):
            return None
        message = doc.generate_sync_message(entry.state)
        if message is None:
            entry.inbound = None  # in step with the peer: nothing waits on a dependency
            self._holding.pop(doc_id, None)
            return None
        self._spend(entry, len(message))
        return message

    def _keep_inbound(self, doc_id: str, entry: _DocState, working: Doc) -> None:
        entry.inbound = working
        self._holding[doc_id] = None
        self._holding.move_to_end(doc_id)
        while len(self._holding) > max(MAX_INBOUND_DOCS, 0):
            # Memory stays bounded; if the oldest copy held a waiting change, its exchange
            # stalls and the guard sends that document whole.
            oldest, _ = self._holding.popitem(last=False)
            self._docs[oldest].inbound = None

    def _spend(self, entry: _DocState, size: int) -> bool:
        now = self._clock()
        if now - entry.window_start_s >= BUDGET_WINDOW_S:
            entry.window_start_s, entry.window_bytes = now, 0
        entry.window_bytes += size
        return entry.window_bytes <= BYTES_PER_DOC_PER_MINUTE

    def _paused(self, entry: _DocState) -> bool:
        return (entry.window_bytes > BYTES_PER_DOC_PER_MINUTE
                and self._clock() - entry.window_start_s < BUDGET_WINDOW_S)

    def _stalled(self, doc_id: str) -> None:
        self.forget(doc_id)
        if doc_id not in self._logged:
            self._logged.add(doc_id)
            log.warning("sync of %s with %s made no progress in %d rounds: sending it whole",
                        doc_id, self._peer_name, STALL_ROUNDS)
