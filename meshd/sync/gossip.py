"""Gossip over the peer sessions, in the spirit of Plumtree: which peers get a change pushed
whole, which only hear of it, and how the links between them are pruned and grafted.

A link is eager (changes are pushed whole) or lazy (a change is only announced, by IHave, a
short delay later). Where pruning is on (a big mesh, see meshd.sync.peering), a push that
brings a change this device already had prunes its link: both ends turn it lazy, so pushes
settle on a spanning tree and each device gets each change about once. An IHave naming heads
that still have not come a moment later pulls them with the sync protocol and grafts the link
(eager again), repairing the tree; so does losing an eager link. In a small mesh every link
stays eager: a change is pushed to every peer, as before there was gossip.

No I/O: it queues messages on the session's Outbox.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from meshd import wire
from meshd.sync.digest import HeadsDigest
from meshd.sync.outbox import Outbox
from meshd.sync.ports import DocChange

if TYPE_CHECKING:
    from meshd.sync.peer import PeerSession

# Each change is announced to this many lazy peers, at random. Plumtree announces to all: with
# hundreds of devices that costs more frames than the pushes themselves. Lost eager links are
# grafted back at once, and anti-entropy still finds anything missed.
LAZY_FANOUT = 1


class GossipLink:
    """The gossip side of one session: eager or lazy, and the pulls an IHave starts."""

    def __init__(self, outbox: Outbox, index: HeadsDigest, peer_heads: dict[str, wire.Heads],
                 *, pruning: Callable[[], bool], lazy_delay_s: float,
                 request: Callable[[list[str]], None], closing: asyncio.Event) -> None:
        self.eager = True
        self._outbox = outbox
        self._index = index
        self._peer_heads = peer_heads
        self._pruning = pruning
        self._lazy_delay_s = lazy_delay_s
        self._request = request
        self._closing = closing

    def has(self, change: DocChange) -> bool:
        """Whether the peer said it holds exactly the heads this change leads to."""
        return self._peer_heads.get(change.doc_id) == change.heads

    def announce(self, change: DocChange) -> None:
        """Announce a change lazily (IHave) unless the peer already has exactly these heads."""
        if not self.has(change):
            self._outbox.lazy(change.doc_id, change.heads)

    def graft(self) -> None:
        """Make this link eager at both ends."""
        if not self.eager:
            self.eager = True
            self._outbox.control(wire.Graft())

    def duplicate(self) -> None:
        """A pushed change was here already: prune this link, if pruning is on."""
        if self.eager and self._pruning():
            self.eager = False
            self._outbox.control(wire.Prune())

    def on_message(self, message: wire.IHave | wire.Prune | wire.Graft) -> None:
        """Act on the peer's gossip message."""
        if isinstance(message, wire.Prune):
            self.eager = False
        elif isinstance(message, wire.Graft):
            self.eager = True
        else:
            for doc_id, heads in message.entries:
                self._peer_heads[doc_id] = heads
            # The pushed copy is likely on its way by the tree: look again after the delay.
            missing = [e for e in message.entries if self._lacks(e)]
            if missing:
                asyncio.get_running_loop().call_later(self._lazy_delay_s, self._pull, missing)

    def _lacks(self, entry: tuple[str, wire.Heads]) -> bool:
        mine = self._index.get(entry[0])
        return mine is None or not set(entry[1]) <= set(mine)

    def _pull(self, announced: list[tuple[str, wire.Heads]]) -> None:
        """Ask for what the peer announced that still has not come: the tree missed this
        device here, so the link is grafted."""
        missing = [doc_id for doc_id, heads in announced if self._lacks((doc_id, heads))]
        if not missing or self._closing.is_set():
            return
        self._request([d for d in missing if d not in self._index])
        self._outbox.sync(d for d in missing if d in self._index)  # lacking, or holding more
        self.graft()


def spread(change: DocChange, sessions: Mapping[str, PeerSession], pruning: bool,
           rng: random.Random) -> None:
    """Hand a change to every peer but the one it came from: pushed on eager links (on all,
    without pruning), announced to LAZY_FANOUT of the lazy ones that may lack it."""
    lazy: list[PeerSession] = []
    for peer_id, session in sessions.items():
        if peer_id == change.origin:
            continue
        if session.gossip.eager or not pruning:
            session.push(change)
        elif not session.gossip.has(change):
            lazy.append(session)
    for session in rng.sample(lazy, min(LAZY_FANOUT, len(lazy))):
        session.gossip.announce(change)


def repair(ended: PeerSession, sessions: Collection[PeerSession], rng: random.Random) -> None:
    """An eager link ended: graft a lazy one, so the tree is not left cut in two (a cycle this
    makes is pruned by the next change that arrives twice)."""
    if not ended.gossip.eager:
        return
    lazy = [s for s in sessions if not s.gossip.eager]
    if lazy:
        rng.choice(lazy).gossip.graft()
