"""A clinic's store on the relay when its documents live in PostgreSQL (meshd.relay.pg).

`PgStore` is the relay's Store for one clinic: every durable write (change chunks, signatures,
audit rows, blobs) is sealed and committed to the shared database before it returns, then kept
in memory, where reads, heads, search and the other projection rows are answered
(`MemoryStore`). Projection rows are never sent to the database: they are derived from the
documents, recomputed here after a load and after another process's write
(`Documents.written_elsewhere`), so patient search needs no clear or hashed rows in PostgreSQL.

On start the clinic's rows are replayed in sequence order; afterwards the database's follower
calls `catch_up` for rows other relay processes wrote. Every row is applied as an append
(Automerge loads concatenated saves and chunks in any order), so two processes that each
created a document keep both histories. Rows are never compacted yet: a clinic's space replays
its whole history when a relay process opens it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import msgpack

from meshd.docs import Documents
from meshd.relay.pg import CHANNEL, PgDatabase, Sealer
from meshd.reprojection import REPROJECT_BATCH
from meshd.store.base import Attestation, AuditEvent, BlobChunk, DocWrite, Store
from meshd.store.blobs import check_digest
from meshd.store.memory import MemoryStore

DB_ORIGIN = "relay-db"  # the origin listeners hear for another relay process's write
WrittenElsewhere = Callable[[Sequence[str]], Awaitable[None]]

NEXT_SEQ = ("INSERT INTO store_seq VALUES (%s, 1) ON CONFLICT (clinic_id)"
            " DO UPDATE SET seq = store_seq.seq + 1 RETURNING seq")


def _durable(writes: Sequence[DocWrite], audit: Sequence[AuditEvent]) -> bool:
    """Whether a write carries anything beyond projection rows (which are derived)."""
    return bool(audit) or any(w.data or w.snapshot or w.attestations for w in writes)


def _encode(writes: Sequence[DocWrite], audit: Sequence[AuditEvent]) -> bytes:
    packed = msgpack.packb({
        "w": [[w.doc_id, bytes(w.data), list(w.heads), w.snapshot,
               [[a.actor, a.seq, a.hash, a.sig] for a in w.attestations]] for w in writes],
        "a": [[e.at_ms, e.user, e.action, e.doc_id, e.origin, e.detail] for e in audit]})
    assert isinstance(packed, bytes)
    return packed


def _decode(data: bytes) -> tuple[list[DocWrite], list[AuditEvent]]:
    found: dict[str, Any] = msgpack.unpackb(data)
    writes = [DocWrite(doc_id, body, tuple(heads), None, snapshot,
                       tuple(Attestation(*a) for a in signed))
              for doc_id, body, heads, snapshot, signed in found["w"]]
    return writes, [AuditEvent(*row) for row in found["a"]]


class PgStore(MemoryStore):
    """One clinic's documents in the shared database, answered from memory."""

    def __init__(self, db: PgDatabase, clinic_id: str) -> None:
        super().__init__()
        self._db = db
        self._clinic_id = clinic_id
        self._sealer = Sealer(db.master, "store " + clinic_id)
        self._lock = asyncio.Lock()  # a write and a catch-up never interleave
        self._written_elsewhere: WrittenElsewhere | None = None
        self._unfollow: Callable[[], None] | None = None
        self.last_seq = 0

    async def start(self) -> None:
        """Replay the clinic's rows from the database."""
        await super().start()
        await self.catch_up()

    async def follow(self, written_elsewhere: WrittenElsewhere) -> None:
        """From now on, apply other processes' writes and tell `written_elsewhere` which
        documents they changed."""
        self._written_elsewhere = written_elsewhere
        self._unfollow = self._db.follow(self._clinic_id, self)
        await self.catch_up()

    async def stop(self) -> None:
        """Stop following; safe twice."""
        if self._unfollow is not None:
            self._unfollow()
            self._unfollow = None
        await super().stop()

    async def write(self, writes: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
        """Commit the sealed write to the database, then keep it in memory."""
        self._check_open()
        if not _durable(writes, audit):
            await self._remember(writes, audit)
            return
        sealed = self._sealer.seal(_encode(writes, audit), "write")
        async with self._lock:
            async with self._db.pool.connection() as conn, conn.transaction():
                row = await (await conn.execute(NEXT_SEQ, (self._clinic_id,))).fetchone()
                assert row is not None
                await conn.execute("INSERT INTO store_writes VALUES (%s, %s, %s, %s)",
                                   (self._clinic_id, row[0], self._db.writer_id, sealed))
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._clinic_id))
            if row[0] == self.last_seq + 1:
                self.last_seq = row[0]
            await self._remember(writes, audit)

    async def catch_up(self) -> None:
        """Apply the rows other processes (or earlier runs) wrote since `last_seq`."""
        touched: set[str] = set()
        async with self._lock:
            async with self._db.pool.connection() as conn:
                rows = await (await conn.execute(
                    "SELECT seq, writer, sealed FROM store_writes WHERE clinic_id = %s"
                    " AND seq > %s ORDER BY seq", (self._clinic_id, self.last_seq))).fetchall()
            for seq, writer, sealed in rows:
                if writer != self._db.writer_id:
                    writes, audit = _decode(self._sealer.open(bytes(sealed), "write"))
                    await self._remember(writes, audit)
                    touched.update(w.doc_id for w in writes if w.data)
                self.last_seq = seq
        if touched and self._written_elsewhere is not None:
            await self._written_elsewhere(sorted(touched))

    async def _remember(self, writes: Sequence[DocWrite], audit: Sequence[AuditEvent]) -> None:
        # A document another process created too is appended to, never replaced.
        kept = [DocWrite(w.doc_id, w.data, w.heads, w.projections, False, w.attestations)
                if w.snapshot and w.doc_id in self._snapshots else w for w in writes]
        await super().write(kept, audit)

    # -- blobs: sealed in the database, read through into memory --------------------------

    async def put_blob(self, sha256: str, data: bytes, content_type: str) -> None:
        """Commit the sealed blob to the database, then keep it in memory."""
        self._check_open()
        if sha256 in self._blobs:
            return
        check_digest(sha256, bytes(data))
        packed = msgpack.packb([content_type, bytes(data)])
        async with self._db.pool.connection() as conn:
            await conn.execute("INSERT INTO store_blobs VALUES (%s, %s, %s)"
                               " ON CONFLICT DO NOTHING",
                               (self._clinic_id, sha256, self._sealer.seal(packed,
                                                                           "blob " + sha256)))
        await super().put_blob(sha256, data, content_type)

    async def _fetch_blobs(self, sha256s: Sequence[str]) -> None:
        missing = [s for s in sha256s if s not in self._blobs]
        if not missing:
            return
        async with self._db.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT sha256, sealed FROM store_blobs WHERE clinic_id = %s"
                " AND sha256 = ANY(%s)", (self._clinic_id, missing))).fetchall()
        for sha256, sealed in rows:
            content_type, data = msgpack.unpackb(self._sealer.open(bytes(sealed),
                                                                   "blob " + sha256))
            await super().put_blob(sha256, data, content_type)

    async def blob_chunk(self, sha256: str, seq: int) -> BlobChunk | None:
        """Chunk `seq` of a blob, or None."""
        await self._fetch_blobs([sha256])
        return await super().blob_chunk(sha256, seq)

    async def read_blob(self, sha256: str) -> tuple[bytes, str] | None:
        """A whole blob and its content type, or None."""
        await self._fetch_blobs([sha256])
        return await super().read_blob(sha256)

    async def blobs_held(self, sha256s: Sequence[str]) -> set[str]:
        """Which of `sha256s` the database holds."""
        await self._fetch_blobs(sha256s)
        return await super().blobs_held(sha256s)


class PgStores:
    """Opens each clinic's PgStore on the process's database (a space_stores.SpaceStores)."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    async def open(self, clinic_id: str, path: Path) -> PgStore:
        """The clinic's store, its rows replayed."""
        store = PgStore(self.db, clinic_id)
        await store.start()
        return store

    async def follow(self, store: Store, documents: Documents) -> None:
        """Project what was loaded, then hear other processes' writes through `documents`."""
        assert isinstance(store, PgStore)
        ids = await store.doc_ids()
        for at in range(0, len(ids), REPROJECT_BATCH):
            await documents.reproject(ids[at:at + REPROJECT_BATCH])
        await store.follow(lambda doc_ids: documents.written_elsewhere(doc_ids, DB_ORIGIN))
