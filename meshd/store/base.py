"""The store's faces: what the node needs from durable storage, and nothing more.

`DocumentStore` keeps documents (read, write, heads) and the attachment blobs beside them
(`BlobStore`: content-addressed bytes, never inside a document); `ReadModel` answers from the
projection rows written in the same transaction (search, queue, worklists, stock, audit), as
typed rows where the shape is fixed. `Store` is both: the SQLCipher store
(`meshd.store.sqlcipher`) and the in-memory fake (`meshd.store.memory`) implement it.
Documents needs only the document store; the clinic core reads the read model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One row of a worklist or report: `kind` names the list (lab_order, prescription, review,
    visit), `key` the item within the document, `sort_key` orders rows of a kind (a time in ms
    or a day) and bounds range queries; `row` is the JSON-ready item."""

    kind: str
    key: str
    sort_key: int | str
    row: Mapping[str, Any]

    def __reduce__(self) -> tuple[type[WorklistRow], tuple[Any, ...]]:
        # By value, as crdt_model.actors.ChangeInfo: bulk ingest's workers hand back many.
        return WorklistRow, (self.kind, self.key, self.sort_key, self.row)


@dataclass(frozen=True, slots=True)
class Projections:
    """Rows derived from one document, replaced in the same transaction as its bytes.

    `patient` is the search row of a chart (None for other documents); `queue` the rows of a
    queue document; `stock` the (drug id -> level) of a facility document; `worklists` a
    chart's pending lab orders, pending prescriptions, open review items and visit facts.
    """

    patient: Mapping[str, Any] | None = None
    queue: Sequence[Mapping[str, Any]] = ()
    stock: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    worklists: Sequence[WorklistRow] = ()


@dataclass(frozen=True, slots=True)
class Attestation:
    """A device's Ed25519 signature over one change of a document: its actor's latest (`seq`),
    which vouches for that actor's earlier changes too (meshd.attest)."""

    actor: bytes
    seq: int
    hash: bytes
    sig: bytes


@dataclass(frozen=True, slots=True)
class DocWrite:
    """Bytes to append to one document: change chunks, or a whole snapshot when `snapshot`."""

    doc_id: str
    data: bytes
    heads: tuple[bytes, ...]
    projections: Projections | None = None
    snapshot: bool = False
    attestations: tuple[Attestation, ...] = ()  # each kept while its actor has no newer one


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One read or write of a chart: who, what, when (epoch ms), from where."""

    at_ms: int
    user: str
    action: str
    doc_id: str
    origin: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A queue entry as projected: who waits at which station since when (epoch ms)."""

    entry_id: str
    patient_id: str
    station: str
    since_ms: int
    enqueued_ms: int

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> QueueRow:
        """From a projected row (`crdt_model.queue.queue_rows`)."""
        return cls(str(row["entry_id"]), str(row["patient_id"]), str(row["station"]),
                   int(row["since_ms"]), int(row["enqueued_ms"]))


@dataclass(frozen=True, slots=True)
class StockRow:
    """A drug's projected stock level (the sum of its ledger lines); `negative` flags < 0."""

    name: str
    level: int
    negative: bool

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> StockRow:
        """From a projected level (`crdt_model.facility.stock_levels`)."""
        level = int(row.get("level") or 0)
        return cls(str(row.get("name") or ""), level, bool(row.get("negative", level < 0)))


@dataclass(frozen=True, slots=True)
class WorklistEntry:
    """A worklist row as read back: the document it came from, its key, sort key and item."""

    doc_id: str
    key: str
    sort_key: int | str
    row: Mapping[str, Any]


BLOB_CHUNK_BYTES = 256 * 1024  # one stored row, and one wire frame, of an attachment


@dataclass(frozen=True, slots=True)
class BlobChunk:
    """Chunk `seq` of a stored blob of `chunk_count` chunks and `size` bytes."""

    seq: int
    chunk_count: int
    size: int
    content_type: str
    data: bytes


class BlobStore(Protocol):
    """Attachment bytes by their SHA-256 (hex), stored whole and durable, read a chunk at a
    time (a peer's request) or whole (a download)."""

    async def put_blob(self, sha256: str, data: bytes, content_type: str) -> None:
        """Store `data` under `sha256` (a no-op when held); StoreError if the digest is wrong."""
        ...

    async def blob_chunk(self, sha256: str, seq: int) -> BlobChunk | None:
        """Chunk `seq` of the blob, or None when the blob (or that chunk) is not here."""
        ...

    async def read_blob(self, sha256: str) -> tuple[bytes, str] | None:
        """The whole blob and the content type it was stored with, or None."""
        ...

    async def blobs_held(self, sha256s: Sequence[str]) -> set[str]:
        """Which of `sha256s` are stored here."""
        ...


class DocumentStore(BlobStore, Protocol):
    """Durable documents. Every write returns only after it is durable, and is atomic."""

    async def read(self, doc_id: str) -> bytes | None:
        """The stored bytes (snapshot + chunks) of `doc_id`, or None when unknown."""
        ...

    async def write(self, writes: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
        """Append all `writes` (with their projections, and audit rows) in one durable
        transaction."""
        ...

    async def heads(self, prefix: str = "") -> dict[str, tuple[bytes, ...]]:
        """The stored heads of every document whose id starts with `prefix`."""
        ...

    async def read_many(self, doc_ids: Sequence[str]) -> dict[str, bytes]:
        """Stored bytes of each known document of `doc_ids`, in one query (bulk initial sync)."""
        ...

    async def attestations(self, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
        """The stored attestations (one per actor) of each of `doc_ids` that has any."""
        ...

    async def doc_ids(self, prefix: str = "") -> list[str]:
        """Ids of the stored documents starting with `prefix`, sorted."""
        ...

    async def count(self, prefix: str = "") -> int:
        """How many stored documents start with `prefix`."""
        ...

    async def reprojection_due(self, after: str = "", limit: int = 100) -> list[str]:
        """Ids after `after` of documents whose projections a schema upgrade left to be
        recomputed, sorted (any projection write of a document clears its mark)."""
        ...

    async def changed_since(self, since_ms: int, after: str = "", limit: int = 500) -> list[str]:
        """Ids after `after` of the documents written on or after `since_ms` (epoch ms, this
        device's clock: its own changes and those it received), sorted, at most `limit`."""
        ...

    async def integrity_check(self) -> list[str]:
        """Problems found in the store (empty when sound)."""
        ...


class ReadModel(Protocol):
    """Rows derived from documents (written with them by `DocumentStore.write`), for pages
    and lists that must not load every chart: search, queue, worklists, stock, audit."""

    async def search_patients(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Patient search rows matching `query` (names, phone, village, ids), best first.
        (Rows stay mappings: they are the API's JSON, with the fields `chart.patient_row`
        projects, which grow with the schema.)"""
        ...

    async def similar_words(self, word: str, limit: int = 5) -> list[str]:
        """Indexed name/village words within a typo or two of `word`, for tolerant search."""
        ...

    async def patient_numbers(self, prefix: str) -> list[str]:
        """The short patient numbers of search rows that start with `prefix`."""
        ...

    async def queue_rows(self, queue_doc_id: str) -> list[QueueRow]:
        """The projected rows of a queue document, oldest arrival first."""
        ...

    async def stock_levels(self, facility_doc_id: str) -> dict[str, StockRow]:
        """Drug id -> projected stock level of a facility document."""
        ...

    async def worklist(
        self, kind: str, low: int | str | None = None, high: int | str | None = None,
        limit: int = 1000,
    ) -> list[WorklistEntry]:
        """Rows of worklist `kind` with low <= sort_key <= high, by sort key."""
        ...

    async def audit_events(self, doc_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The latest audit rows, newest first (of one document when `doc_id`)."""
        ...


class Store(DocumentStore, ReadModel, Protocol):
    """Both faces of the device store (SqlCipherStore, and MemoryStore in tests)."""
