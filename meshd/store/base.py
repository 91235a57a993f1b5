"""The Store interface: what the node needs from durable storage, and nothing more.

The SQLCipher store (`meshd.store.sqlcipher`) and the in-memory fake (`meshd.store.memory`)
both implement it; sync and API code depend only on this Protocol.
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
class DocWrite:
    """Bytes to append to one document: change chunks, or a whole snapshot when `snapshot`."""

    doc_id: str
    data: bytes
    heads: tuple[bytes, ...]
    projections: Projections | None = None
    snapshot: bool = False


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One read or write of a chart: who, what, when (epoch ms), from where."""

    at_ms: int
    user: str
    action: str
    doc_id: str
    origin: str
    detail: str = ""


class Store(Protocol):
    """Durable documents. Every write returns only after it is durable, and is atomic."""

    async def read(self, doc_id: str) -> bytes | None:
        """The stored bytes (snapshot + chunks) of `doc_id`, or None when unknown."""
        ...

    async def write(self, writes: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
        """Append all `writes` (and audit rows) in one durable transaction."""
        ...

    async def heads(self, prefix: str = "") -> dict[str, tuple[bytes, ...]]:
        """The stored heads of every document whose id starts with `prefix`."""
        ...

    async def search_patients(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Patient search rows matching `query` (names, phone, village, ids), best first."""
        ...

    async def read_many(self, doc_ids: Sequence[str]) -> dict[str, bytes]:
        """Stored bytes of each known document of `doc_ids`, in one query (bulk initial sync)."""
        ...

    async def doc_ids(self, prefix: str = "") -> list[str]:
        """Ids of the stored documents starting with `prefix`, sorted."""
        ...

    async def count(self, prefix: str = "") -> int:
        """How many stored documents start with `prefix`."""
        ...

    async def queue_rows(self, queue_doc_id: str) -> list[dict[str, Any]]:
        """The projected rows of a queue document, in their projected order."""
        ...

    async def stock_levels(self, facility_doc_id: str) -> dict[str, dict[str, Any]]:
        """Drug id -> projected stock level of a facility document."""
        ...

    async def audit_events(
        self, doc_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The latest audit rows as dicts (at_ms, user, action, doc_id, origin, detail)."""
        ...

    async def worklist(
        self, kind: str, low: int | str | None = None, high: int | str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Rows of worklist `kind` with low <= sort_key <= high, by sort key:
        dicts {doc_id, key, sort_key, row}."""
        ...

    async def similar_words(self, word: str, limit: int = 5) -> list[str]:
        """Indexed name/village words within a typo or two of `word`, for tolerant search."""
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
