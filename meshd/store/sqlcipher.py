"""The device store: documents and their projections in one SQLCipher (AES-256) database.

One writer thread owns the only write connection; reads run on a small pool of other
connections in threads (WAL lets them read while the writer writes). The event loop only awaits
futures. A write is acknowledged after its COMMIT, with `synchronous=FULL`: durable.
Background compaction folds a document's chunks into a new snapshot once it has more than
`compact_after` of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from crdt_model.errors import ClinicMeshError, StoreError
from meshd.lifecycle import Lifecycle
from meshd.store import blobs, mutations, queries
from meshd.store.base import (
    Attestation,
    AuditEvent,
    BlobChunk,
    DocWrite,
    QueueRow,
    StockRow,
    WorklistEntry,
)
from meshd.store.schema import SQLiteError, connect, migrate, secure_file_mode
from meshd.store.writer import ReaderPool, WriterThread

T = TypeVar("T")
COMPACT_AFTER_CHUNKS = 32
READ_CONNECTIONS = 2
AUDIT_PAGE = 100
WORKLIST_PAGE = 1000
log = logging.getLogger(__name__)


class SqlCipherStore(Lifecycle):
    """Encrypted durable documents: `async with SqlCipherStore(path, key) as store: ...`."""

    def __init__(
        self, path: str | Path, key: bytes, *, create: bool = True,
        compact_after: int = COMPACT_AFTER_CHUNKS, readers: int = READ_CONNECTIONS,
    ) -> None:
        self.path = Path(path)
        self._key = bytes(key)
        self._create = create
        self._compact_after = compact_after
        self._reader_count = readers
        self._writer: WriterThread | None = None
        self._readers: ReaderPool | None = None
        self._to_compact: set[str] = set()
        self.started = asyncio.Event()

    async def start(self) -> None:
        """Open (or create) the database, check the key, migrate, start the threads."""
        if self._writer is not None:
            return
        write_conn, read_conns = await asyncio.to_thread(self._open)
        self._readers = ReaderPool(read_conns)
        self._writer = WriterThread(write_conn, self._compact_step)
        self._writer.start()
        self.started.set()

    def _open(self) -> tuple[Any, list[Any]]:
        conn = connect(self.path, self._key, create=self._create)
        readers: list[Any] = []
        try:
            migrate(conn, self.path)
            secure_file_mode(self.path)
            self._to_compact = {
                row[0] for row in conn.execute(
                    "SELECT doc_id FROM documents WHERE chunk_count > ?", (self._compact_after,)
                )
            }
            conn.execute("PRAGMA shrink_memory")  # the scan's pages: the writer needs none of them
            for _ in range(self._reader_count):
                readers.append(connect(self.path, self._key, create=False))
        except BaseException as exc:
            for reader in readers:
                reader.close()
            conn.close()
            if isinstance(exc, SQLiteError):  # a damaged page met while opening
                raise StoreError(f"can't open the store at {self.path}: {exc}") from exc
            raise
        return conn, readers

    async def stop(self) -> None:
        """Finish queued writes, stop the threads and close every connection; safe twice."""
        writer, readers = self._writer, self._readers
        self._writer = self._readers = None
        self.started.clear()
        if writer is not None:
            await asyncio.to_thread(writer.stop)
            await asyncio.to_thread(writer.close)
        if readers is not None:
            await asyncio.to_thread(readers.close)

    def _running(self) -> tuple[WriterThread, ReaderPool]:
        if self._writer is None or self._readers is None:
            raise StoreError("the store is not open")
        return self._writer, self._readers

    async def _read(self, fn: Callable[[Any], T]) -> T:
        return await self._running()[1].run(fn)

    # Writes ---------------------------------------------------------------------------------

    async def write(self, writes: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
        """Append all `writes` (and audit rows) in one durable transaction."""
        writes, audit = tuple(writes), tuple(audit)
        now_ms = int(time.time() * 1000)

        def job(conn: Any) -> None:
            for doc_id, chunks in mutations.apply_writes(conn, writes, audit, now_ms):
                if chunks > self._compact_after:
                    self._to_compact.add(doc_id)

        await self._running()[0].submit(job)

    async def put_blob(self, sha256: str, data: bytes, content_type: str) -> None:
        """Store an attachment's bytes under their SHA-256, durably (a no-op when held)."""
        now_ms = int(time.time() * 1000)
        await self._running()[0].submit(
            lambda conn: blobs.put(conn, sha256, bytes(data), content_type, now_ms))

    async def compact(self, doc_id: str) -> bool:
        """Fold the chunks of `doc_id` into its snapshot now; False when it had none."""
        return await self._running()[0].submit(lambda conn: mutations.compact(conn, doc_id))

    def _compact_step(self, conn: Any) -> bool:
        """Compact one waiting document (in the writer thread); True while more are waiting."""
        if not self._to_compact:
            return False
        doc_id = self._to_compact.pop()
        conn.execute("BEGIN IMMEDIATE")
        try:
            mutations.compact(conn, doc_id)
        except ClinicMeshError as exc:
            conn.execute("ROLLBACK")  # a document that does not load stays as it is
            log.warning("not compacting %s: %s", doc_id, exc)
        else:
            conn.execute("COMMIT")
        return bool(self._to_compact)

    # Reads ----------------------------------------------------------------------------------

    async def read(self, doc_id: str) -> bytes | None:
        """The stored bytes (snapshot + chunks) of `doc_id`, or None when unknown."""
        return await self._read(lambda conn: queries.read_doc(conn, doc_id))

    async def read_many(self, doc_ids: Sequence[str]) -> dict[str, bytes]:
        """Stored bytes of each known document of `doc_ids` (bulk initial sync)."""
        ids = list(doc_ids)
        return await self._read(lambda conn: queries.read_many(conn, ids))

    async def attestations(self, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
        """The stored attestations (one per actor) of each of `doc_ids` that has any."""
        ids = list(doc_ids)
        return await self._read(lambda conn: queries.attestations(conn, ids))

    async def blob_chunk(self, sha256: str, seq: int) -> BlobChunk | None:
        """Chunk `seq` of a stored blob, or None."""
        return await self._read(lambda conn: blobs.chunk(conn, sha256, seq))

    async def read_blob(self, sha256: str) -> tuple[bytes, str] | None:
        """A whole stored blob and its content type, or None."""
        return await self._read(lambda conn: blobs.read(conn, sha256))

    async def blobs_held(self, sha256s: Sequence[str]) -> set[str]:
        """Which of `sha256s` are stored here."""
        wanted = list(sha256s)
        return await self._read(lambda conn: blobs.held(conn, wanted))

    async def heads(self, prefix: str = "") -> dict[str, tuple[bytes, ...]]:
        """The stored heads of every document whose id starts with `prefix`."""
        return await self._read(lambda conn: queries.heads(conn, prefix))

    async def doc_ids(self, prefix: str = "") -> list[str]:
        """Ids of the stored documents starting with `prefix`, sorted."""
        return await self._read(lambda conn: queries.doc_ids(conn, prefix))

    async def count(self, prefix: str = "") -> int:
        """How many stored documents start with `prefix`."""
        return await self._read(lambda conn: queries.count(conn, prefix))

    async def search_patients(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Patient rows matching `query` (name prefixes, phone digits, ids, village), best first."""
        return await self._read(lambda conn: queries.search_patients(conn, query, limit))

    async def patient_numbers(self, prefix: str) -> list[str]:
        """The patient numbers of search rows that start with `prefix`."""
        return await self._read(lambda conn: queries.patient_numbers(conn, prefix))

    async def queue_rows(self, queue_doc_id: str) -> list[QueueRow]:
        """The projected rows of a queue document."""
        return await self._read(lambda conn: queries.queue_rows(conn, queue_doc_id))

    async def stock_levels(self, facility_doc_id: str) -> dict[str, StockRow]:
        """Drug id -> projected stock level of a facility document."""
        return await self._read(lambda conn: queries.stock_levels(conn, facility_doc_id))

    async def audit_events(
        self, doc_id: str | None = None, limit: int = AUDIT_PAGE
    ) -> list[AuditEvent]:
        """The latest audit rows, newest first (of one document when `doc_id`)."""
        return await self._read(lambda conn: queries.audit_events(conn, doc_id, limit))

    async def worklist(
        self, kind: str, low: int | str | None = None, high: int | str | None = None,
        limit: int = WORKLIST_PAGE,
    ) -> list[WorklistEntry]:
        """Rows of worklist `kind` with low <= sort_key <= high, by sort key."""
        return await self._read(lambda conn: queries.worklist(conn, kind, low, high, limit))

    async def similar_words(self, word: str, limit: int = 5) -> list[str]:
        """Indexed name/village words within a typo or two of `word` (same first letter)."""
        return await self._read(lambda conn: queries.similar_words(conn, word, limit))

    async def reprojection_due(self, after: str = "", limit: int = 100) -> list[str]:
        """Documents after `after` (by id) whose projections a schema upgrade left to recompute."""
        return await self._read(lambda conn: queries.reprojection_due(conn, after, limit))

    async def changed_since(self, since_ms: int, after: str = "", limit: int = 500) -> list[str]:
        """Ids after `after` of the documents written on or after `since_ms`, sorted."""
        return await self._read(lambda conn: queries.changed_since(conn, since_ms, after, limit))

    async def integrity_check(self) -> list[str]:
        """Problems found (empty when sound): page checks, and every document loads."""
        return await self._read(queries.integrity_problems)
