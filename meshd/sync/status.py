"""What the sync engine reports about its peers and documents (for the API and `meshd status`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshd.sync.peer import PeerSession


@dataclass(slots=True)
class PeerRecord:
    """What is known of one peer across its sessions: who, where, when last seen, bytes."""

    address: str
    device_name: str | None = None
    device_id: str | None = None
    session: PeerSession | None = None
    last_seen_s: float | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    sessions: int = 0  # sessions started with this peer (more than one: a link was cut)

    def attach(self, session: PeerSession, now_s: float) -> None:
        """A session with this peer started."""
        self.session = session
        self.sessions += 1
        self.address = session.address
        self.device_name = session.channel.peer_name
        self.device_id = session.channel.peer_id
        self.last_seen_s = now_s

    def detach(self, session: PeerSession, now_s: float) -> None:
        """That session ended: fold its byte counts into the totals."""
        self.bytes_in += session.channel.bytes_in
        self.bytes_out += session.channel.bytes_out
        self.last_seen_s = now_s
        if self.session is session:
            self.session = None

    def as_dict(self, now_s: float) -> dict[str, Any]:
        """The JSON shape of one peer in the status."""
        live = self.session
        return {
            "device_id": self.device_id,
            "device_name": self.device_name,
            "address": self.address,
            "connected": live is not None,
            "last_seen_ms": None if self.last_seen_s is None else int(
                (now_s if live is not None else self.last_seen_s) * 1000
            ),
            "docs_pending_out": live.pending_out() if live else 0,
            "docs_pending_in": live.pending_in() if live else 0,
            # Paused for sending too many sync bytes a minute: a sign of a sync bug, not load.
            "docs_over_budget": live.doc_sync.over_budget() if live else [],
            "sync_messages_in": live.sync_received.total() if live else 0,
            "bytes_in": self.bytes_in + (live.channel.bytes_in if live else 0),
            "bytes_out": self.bytes_out + (live.channel.bytes_out if live else 0),
            "sessions": self.sessions,
        }


def engine_status(
    device: dict[str, Any], records: Iterable[PeerRecord], changed_ms: dict[str, int],
    doc_count: int, counters: dict[str, int], recent_docs: int, now_s: float,
) -> dict[str, Any]:
    """The engine's status: this device, its peers, its most recently changed documents."""
    recent = itertools.islice(reversed(changed_ms.items()), recent_docs)  # newest last
    return {
        "device": device,
        "peers": [r.as_dict(now_s) for r in records],
        "documents": {
            "count": doc_count,
            "recent": [{"doc_id": d, "last_change_ms": ms} for d, ms in recent],
        },
        **counters,
    }
