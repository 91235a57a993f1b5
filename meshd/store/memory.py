"""MemoryStore: the in-memory fake of the Store, for sync and API tests (nothing is durable).

Same interface and the same observable behaviour as SqlCipherStore, with a linear search by the
same folding rules; writes are atomic because they are applied without awaiting in between.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Sequence
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.errors import ClinicMeshError, StoreError
from meshd.lifecycle import Lifecycle
from meshd.store.base import (
    Attestation,
    AuditEvent,
    BlobChunk,
    DocWrite,
    QueueRow,
    StockRow,
    WorklistEntry,
)
from meshd.store.blobs import check_digest, chunks_of
from meshd.store.search import compact, matches, patient_row, search_columns, similar

AUDIT_PAGE = 100
WORKLIST_PAGE = 1000


class MemoryStore(Lifecycle):
    """Documents in dicts: `async with MemoryStore() as store: ...`."""

    def __init__(self) -> None:
        self._snapshots: dict[str, bytes] = {}
        self._chunks: dict[str, list[bytes]] = {}
        self._heads: dict[str, tuple[bytes, ...]] = {}
        self._updated_ms: dict[str, int] = {}
        self._patients: dict[str, dict[str, Any]] = {}
        self._queues: dict[str, list[dict[str, Any]]] = {}
        self._stock: dict[str, dict[str, dict[str, Any]]] = {}
        self._worklists: dict[str, list[dict[str, Any]]] = {}
        self._audit: list[AuditEvent] = []
        self._attestations: dict[str, dict[bytes, Attestation]] = {}
        self._blobs: dict[str, tuple[list[bytes], int, str]] = {}
        self.started = asyncio.Event()

    async def start(self) -> None:
        """Mark the store open."""
        self.started.set()

    async def stop(self) -> None:
        """Mark the store closed (the data stays, as a file would); safe twice."""
        self.started.clear()

    def _check_open(self) -> None:
        if not self.started.is_set():
            raise StoreError("the store is not open")

    async def write(self, writes: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
        """Apply all `writes` and audit rows at once."""
        self._check_open()
        for write in writes:
            if not isinstance(write.data, bytes | bytearray | memoryview):
                raise StoreError(f"document bytes expected for {write.doc_id}")
        for write in writes:
            if write.snapshot or write.doc_id not in self._snapshots:
                self._snapshots[write.doc_id] = bytes(write.data)
                self._chunks[write.doc_id] = []
            elif write.data:
                self._chunks[write.doc_id].append(bytes(write.data))
            self._heads[write.doc_id] = tuple(write.heads)
            self._updated_ms[write.doc_id] = time.time_ns() // 1_000_000
            if write.projections is not None:
                proj = write.projections
                self._patients.pop(write.doc_id, None)
                if proj.patient is not None:
                    self._patients[write.doc_id] = patient_row(proj.patient)
                self._queues[write.doc_id] = [_plain(row) for row in proj.queue]
                self._stock[write.doc_id] = {str(k): _plain(v) for k, v in proj.stock.items()}
                self._worklists[write.doc_id] = [
                    {"kind": w.kind, "doc_id": write.doc_id, "key": w.key,
                     "sort_key": w.sort_key, "row": _plain(w.row)}
                    for w in proj.worklists
                ]
            kept = self._attestations.setdefault(write.doc_id, {})
            for a in write.attestations:
                if a.actor not in kept or kept[a.actor].seq < a.seq:
                    kept[a.actor] = a
        self._audit.extend(audit)

    async def put_blob(self, sha256: str, data: bytes, content_type: str) -> None:
        """Keep an attachment's bytes under their SHA-256 (a no-op when held)."""
        self._check_open()
        if sha256 not in self._blobs:
            check_digest(sha256, bytes(data))
            self._blobs[sha256] = (chunks_of(bytes(data)), len(data), content_type)

    async def blob_chunk(self, sha256: str, seq: int) -> BlobChunk | None:
        """Chunk `seq` of a kept blob, or None."""
        self._check_open()
        found = self._blobs.get(sha256)
        if found is None or not 0 <= seq < len(found[0]):
            return None
        return BlobChunk(seq, len(found[0]), found[1], found[2], found[0][seq])

    async def read_blob(self, sha256: str) -> tuple[bytes, str] | None:
        """A whole kept blob and its content type, or None."""
        self._check_open()
        found = self._blobs.get(sha256)
        return None if found is None else (b"".join(found[0]), found[2])

    async def blobs_held(self, sha256s: Sequence[str]) -> set[str]:
        """Which of `sha256s` are kept here."""
        self._check_open()
        return {s for s in sha256s if s in self._blobs}

    async def compact(self, doc_id: str) -> bool:
        """Fold the chunks of `doc_id` into its snapshot; False when it had none."""
        self._check_open()
        chunks = self._chunks.get(doc_id)
        if not chunks:
            return False
        self._snapshots[doc_id] = Doc.load(self._snapshots[doc_id] + b"".join(chunks)).save()
        self._chunks[doc_id] = []
        return True

    async def read(self, doc_id: str) -> bytes | None:
        """The stored bytes (snapshot + chunks) of `doc_id`, or None when unknown."""
        self._check_open()
        if doc_id not in self._snapshots:
            return None
        return self._snapshots[doc_id] + b"".join(self._chunks[doc_id])

    async def read_many(self, doc_ids: Sequence[str]) -> dict[str, bytes]:
        """Stored bytes of each known document of `doc_ids`."""
        found = {d: await self.read(d) for d in doc_ids}
        return {d: data for d, data in found.items() if data is not None}

    async def attestations(self, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
        """The stored attestations (one per actor) of each of `doc_ids` that has any."""
        self._check_open()
        return {d: list(self._attestations[d].values()) for d in doc_ids
                if self._attestations.get(d)}

    async def heads(self, prefix: str = "") -> dict[str, tuple[bytes, ...]]:
        """The stored heads of every document whose id starts with `prefix`."""
        self._check_open()
        return {d: h for d, h in self._heads.items() if d.startswith(prefix)}

    async def doc_ids(self, prefix: str = "") -> list[str]:
        """Ids of the stored documents starting with `prefix`, sorted."""
        self._check_open()
        return sorted(d for d in self._snapshots if d.startswith(prefix))

    async def count(self, prefix: str = "") -> int:
        """How many stored documents start with `prefix`."""
        return len(await self.doc_ids(prefix))

    async def search_patients(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Patient rows matching `query`, unmerged ones first."""
        self._check_open()
        found = [
            {"doc_id": doc_id, **row}
            for doc_id, row in sorted(self._patients.items())
            if matches(row, query)
        ]
        found.sort(key=lambda row: row["merged_into"] is not None)
        return found[: max(limit, 0)]

    async def patient_numbers(self, prefix: str) -> list[str]:
        """The patient numbers of search rows that start with `prefix`."""
        self._check_open()
        numbers = (row.get("number") for row in self._patients.values())
        return [n for n in numbers if isinstance(n, str) and n.startswith(prefix)]

    async def queue_rows(self, queue_doc_id: str) -> list[QueueRow]:
        """The projected rows of a queue document."""
        self._check_open()
        return [QueueRow.of(row) for row in self._queues.get(queue_doc_id, [])]

    async def stock_levels(self, facility_doc_id: str) -> dict[str, StockRow]:
        """Drug id -> projected stock level of a facility document."""
        self._check_open()
        return {k: StockRow.of(v) for k, v in self._stock.get(facility_doc_id, {}).items()}

    async def audit_events(
        self, doc_id: str | None = None, limit: int = AUDIT_PAGE
    ) -> list[AuditEvent]:
        """The latest audit rows, newest first (of one document when `doc_id`)."""
        self._check_open()
        rows = [e for e in self._audit if doc_id is None or e.doc_id == doc_id]
        ordered = sorted(enumerate(rows), key=lambda p: (p[1].at_ms, p[0]), reverse=True)
        return [row for _, row in ordered[:limit]]

    async def worklist(
        self, kind: str, low: int | str | None = None, high: int | str | None = None,
        limit: int = WORKLIST_PAGE,
    ) -> list[WorklistEntry]:
        """Rows of worklist `kind` with low <= sort_key <= high, by sort key."""
        self._check_open()
        found = [
            WorklistEntry(row["doc_id"], row["key"], row["sort_key"], copy.deepcopy(row["row"]))
            for rows in self._worklists.values() for row in rows
            if row["kind"] == kind and (low is None or row["sort_key"] >= low)
            and (high is None or row["sort_key"] <= high)
        ]
        found.sort(key=lambda r: (r.sort_key, r.doc_id, r.key))
        return found[: max(limit, 0)]

    async def similar_words(self, word: str, limit: int = 5) -> list[str]:
        """Indexed name/village words within a typo or two of `word` (same first letter)."""
        self._check_open()
        typed = compact(word)
        terms = {
            term for row in self._patients.values() for column in search_columns(row)[:2]
            for term in column.split() if term[:1] == typed[:1]
        }
        return similar(typed, sorted(terms), limit)

    async def reprojection_due(self, after: str = "", limit: int = 100) -> list[str]:
        """Always empty: a memory store has no older schema to upgrade from."""
        self._check_open()
        return []

    async def changed_since(self, since_ms: int, after: str = "", limit: int = 500) -> list[str]:
        """Ids after `after` of the documents written on or after `since_ms`, sorted."""
        self._check_open()
        found = sorted(d for d, at in self._updated_ms.items() if d > after and at >= since_ms)
        return found[:limit]

    async def integrity_check(self) -> list[str]:
        """Documents that do not load (empty when sound)."""
        problems = []
        for doc_id in await self.doc_ids():
            try:
                Doc.load(await self.read(doc_id) or b"")
            except ClinicMeshError as exc:
                problems.append(f"{doc_id}: {exc}")
        return problems


def _plain(value: Any) -> Any:
    """A copy as the SQLCipher store gives it back (through JSON)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
