"""Device-to-device sync: authenticated sealed sessions, push, multi-hop gossip, anti-entropy.

The node builds a `SyncEngine` from `Credentials`, its `Documents` (which satisfy
`ports.SyncedDocuments`) and a `WebSocketTransport`; tests use the fakes in `sync.fakes`.
"""

from meshd.sync.engine import SyncEngine
from meshd.sync.handshake import Credentials
from meshd.sync.ports import LOCAL_ORIGIN, DocChange, QuarantineRecord, SyncedDocuments
from meshd.sync.timing import SyncTiming
from meshd.sync.websocket import DEFAULT_PEER_PORT, WebSocketTransport

__all__ = [
    "DEFAULT_PEER_PORT",
    "LOCAL_ORIGIN",
    "Credentials",
    "DocChange",
    "QuarantineRecord",
    "SyncEngine",
    "SyncTiming",
    "SyncedDocuments",
    "WebSocketTransport",
]
