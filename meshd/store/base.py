"""The Store interface: what the node needs from durable storage, and nothing more.

The SQLCipher store (`meshd.store.sqlcipher`) and the in-memory fake (`meshd.store.memory`)
both implement it; sync and API code depend only on this Protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Projections:
    """Rows derived from one document, replaced in the same transaction as its bytes.

    `patient` is the search row of a chart (None for other documents); `queue` the rows of a
    queue document; `stock` the (drug id -> level) of a facility document.
    """

    patient: Mapping[str, Any] | None = None
    queue: Sequence[Mapping[str, Any]] = ()
    stock: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


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
