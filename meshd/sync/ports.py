"""The sync engine's two seams: the local documents it syncs, and the links it talks over.

`SyncedDocuments` is what the node's `meshd.docs.Documents` implements (the fake is
`meshd.sync.fakes.MemoryDocuments`); `Transport`/`Link` is what `meshd.sync.websocket` implements
over aiohttp (the fake is `meshd.sync.fakes.MemoryNetwork`). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from crdt_model.adapter import Doc
from crdt_model.errors import ClinicMeshError, CorruptDocument
from meshd.store.base import Attestation
from meshd.sync.digest import HeadsDigest
from meshd.wire import BlobChunk, BlobRequest

Heads = tuple[bytes, ...]
LOCAL_ORIGIN = "local"


@dataclass(frozen=True, slots=True)
class DocChange:
    """A document changed here: chunks `data` lead from heads `base` to `heads`.

    `origin` is LOCAL_ORIGIN for an edit on this device, or the peer id (hex device key) that
    sent it, so the engine forwards it to every other peer but that one. `base` is empty when
    `data` is the document's whole history (a new document).
    """

    doc_id: str
    base: Heads
    heads: Heads
    data: bytes
    origin: str = LOCAL_ORIGIN


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """Data from a peer that failed to load: kept aside with who sent it, never applied."""

    doc_id: str
    peer_id: str
    peer_name: str
    reason: str
    data: bytes
    at_ms: int


ApplyResult = bool | CorruptDocument


class SyncedDocuments(Protocol):
    """The device's documents, as the sync engine sees them."""

    async def heads_index(self) -> HeadsDigest:
        """The current heads of every document held here, as the index the engine keeps up to
        date with every DocChange (one structure: an implementation may read it too)."""
        ...

    async def load(self, doc_id: str) -> Doc | None:
        """The document `doc_id`, or None; the engine only reads it (it forks before merging)."""
        ...

    async def saved(self, doc_ids: Sequence[str]) -> dict[str, bytes]:
        """The stored bytes (snapshot + chunks) of each known id in `doc_ids`, for bulk sync."""
        ...

    async def attestations(self, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
        """The signatures proving each document's changes (meshd.attest), sent with them."""
        ...

    async def apply_remote(
        self, items: Sequence[tuple[str, bytes]], origin: str,
        offered: Mapping[str, Sequence[Attestation]] | None = None,
    ) -> list[ApplyResult]:
        """Merge each (doc id, chunks or saved bytes) from peer `origin`, durably, in one write;
        `offered` are the peer's signatures, which must prove every new change.

        Per item: True if the document gained changes, False if nothing was new (or the chunks'
        dependencies are missing), or the CorruptDocument that loading raised; a corrupt item
        changes nothing and never stops the others. A new doc id is created from its bytes.
        Every gain is announced to subscribers as a DocChange with `origin` before returning.
        """
        ...

    def subscribe(self, listener: Callable[[DocChange], None]) -> Callable[[], None]:
        """Call `listener` after every durable change (local or remote); returns unsubscribe."""
        ...


class SyncedBlobs(Protocol):
    """Attachment blobs, as a peer session sees them (meshd.sync.blobs): a peer's request is
    answered with one chunk, a chunk that arrives is handed to whoever asked for it."""

    async def answer(self, request: BlobRequest) -> BlobChunk:
        """The chunk asked for, or a BlobChunk with chunk_count 0 when the blob is not here."""
        ...

    def received(self, peer_id: str, chunk: BlobChunk) -> None:
        """A chunk from peer `peer_id` (ignored unless this device asked for it)."""
        ...


class LinkClosed(ClinicMeshError):
    """The other end of a link went away (or the link was closed here)."""

    code = "link_closed"


class Link(Protocol):
    """One bidirectional, ordered, message-framed connection to a peer."""

    @property
    def remote(self) -> str:
        """The peer's address, for status and logs."""
        ...

    async def send(self, frame: bytes) -> None:
        """Send one frame; waits while the peer is slow (backpressure); LinkClosed if gone."""
        ...

    async def receive(self) -> bytes:
        """The next frame; LinkClosed when the link is closed, SyncError for a non-binary frame."""
        ...

    async def close(self) -> None:
        """Close the link; safe to call twice."""
        ...

    def authenticated(self) -> None:
        """The handshake on this link succeeded: it may now carry frames of any wire size."""
        ...


LinkHandler = Callable[[Link], Coroutine[Any, Any, None]]


class Transport(Protocol):
    """Accepts links from peers and dials them."""

    @property
    def address(self) -> str:
        """HOST:PORT peers can dial (valid once started)."""
        ...

    async def start(self, on_link: LinkHandler) -> None:
        """Start accepting; `on_link` runs for the whole life of each accepted link."""
        ...

    async def connect(self, address: str) -> Link:
        """Open a link to HOST:PORT; LinkClosed (or OSError) if unreachable."""
        ...

    async def stop(self) -> None:
        """Stop accepting and close every link; safe to call twice."""
        ...
