"""The node's `meshd.docs.Documents` seen through the sync port (`SyncedDocuments`).

Documents announces (doc id, heads, origin) after each durable write; the engine wants the new
change chunks too, so this adapter asks the live document for what came since the heads it last
announced, which it reads from (and records in) the engine's index: `heads_index` builds that
`HeadsDigest` once and both keep it, so 50,000 documents' heads are held once. Bulk reads go
straight to the store (no cache churn). It adds no writes of its own: every write still goes
through Documents.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from crdt_model.adapter import Doc
from crdt_model.errors import ClinicMeshError, CorruptDocument, NotFound, ValidationError
from meshd.store.base import Attestation
from meshd.sync.digest import HeadsDigest
from meshd.sync.ports import LOCAL_ORIGIN, ApplyResult, DocChange, Heads

log = logging.getLogger(__name__)

DocListener = Callable[[str, Heads, str], "Awaitable[None] | None"]


class DocumentsLike(Protocol):
    """What this adapter uses of meshd.docs.Documents."""

    store: Any

    def subscribe(self, listener: DocListener) -> Callable[[], None]:
        """Be told (doc id, heads, origin) after each durable change."""
        ...

    async def read(self, doc_id: str, view: Callable[[Doc], Any]) -> Any:
        """`view(doc)` of the live document; NotFound when unknown."""
        ...

    async def apply_remote(self, doc_id: str, chunks: bytes, origin: str = ...,
                           attestations: Sequence[Attestation] = ...) -> bool:
        """Merge chunks or a saved document from a peer, durably."""
        ...


class DocumentsPort:
    """SyncedDocuments over the node's Documents and its Store."""

    def __init__(self, documents: DocumentsLike) -> None:
        self._documents = documents
        self._index = HeadsDigest()  # the heads last announced; the engine's index once built
        self._listeners: list[Callable[[DocChange], None]] = []
        self._unsubscribe: Callable[[], None] | None = None

    async def heads_index(self) -> HeadsDigest:
        """Stored heads of every document (the store's index, no document is loaded), as the
        index the engine keeps; this port reads and records announced heads in it from now on."""
        stored: dict[str, Heads] = await self._documents.store.heads("")
        # The index keeps copies of the ids: the store's answer (50,000 ids, tuples and bytes)
        # is then freed whole, where keeping its ids pinned ~4 MB of its memory for good.
        self._index = HeadsDigest({_copy(doc_id): heads for doc_id, heads in stored.items()})
        return self._index

    async def load(self, doc_id: str) -> Doc | None:
        """The live document, or None when this device does not hold it."""
        try:
            doc: Doc = await self._documents.read(doc_id, lambda d: d)
        except (NotFound, ValidationError):
            return None
        return doc

    async def saved(self, doc_ids: Sequence[str]) -> dict[str, bytes]:
        """Stored bytes of each known document, in one store query."""
        found: dict[str, bytes] = await self._documents.store.read_many(list(doc_ids))
        return found

    async def attestations(self, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
        """The stored signatures of each document's changes, in one store query."""
        found: dict[str, list[Attestation]] = await self._documents.store.attestations(
            list(doc_ids))
        return found

    async def apply_remote(
        self, items: Sequence[tuple[str, bytes]], origin: str,
        offered: Mapping[str, Sequence[Attestation]] | None = None,
    ) -> list[ApplyResult]:
        """Merge each item through Documents; corrupt items (or bad doc ids) change nothing."""
        batch = getattr(self._documents, "apply_remote_many", None)
        if batch is not None:  # one durable write for a whole batch, when Documents offers it
            results: list[ApplyResult] = await batch(items, origin, offered)
            return results
        outcome: list[ApplyResult] = []
        for doc_id, data in items:
            try:
                outcome.append(await self._documents.apply_remote(
                    doc_id, data, origin, (offered or {}).get(doc_id, ())))
            except CorruptDocument as exc:
                outcome.append(exc)
            except ClinicMeshError as exc:  # e.g. a doc id this device would never accept
                outcome.append(CorruptDocument(f"refused {doc_id!r}: {exc.message}"))
        return outcome

    def subscribe(self, listener: Callable[[DocChange], None]) -> Callable[[], None]:
        """Call `listener` with the chunks of every durable change (local or remote)."""
        self._listeners.append(listener)
        if self._unsubscribe is None:
            self._unsubscribe = self._documents.subscribe(self._heard)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
            if not self._listeners and self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

        return unsubscribe

    async def _heard(self, doc_id: str, heads: Heads, origin: str) -> None:
        base = self._index.get(doc_id) or ()
        if tuple(sorted(heads)) == base:
            return
        # A whole document from a peer is only announced to the others (see Outbox.push), by
        # the heads just written: neither loaded (a bulk sync stores charts unloaded,
        # meshd.ingest) nor its history serialised.
        if origin != LOCAL_ORIGIN and not base:
            now, data = tuple(sorted(heads)), b""
        else:
            try:
                now, data = await self._documents.read(doc_id, lambda d: (
                    tuple(d.heads()), d.changes_since(list(base))))
            except ClinicMeshError as exc:
                log.warning("cannot announce %s to peers: %s", doc_id, exc)
                return
        self._index.update(doc_id, now)
        change = DocChange(doc_id, base, now, data, origin)
        for listener in list(self._listeners):
            listener(change)


def _copy(text: str) -> str:
    """A new str equal to `text` (str() and slicing return the same object)."""
    return text.encode().decode()
