"""The relay's PostgreSQL database (`meshd relay --db postgresql://…`): connection, schema,
the keys that seal what it stores, and the follower that hears other relay processes' writes.

Several relay processes may share one database; each clinic's rows carry its id (one set of
tables, a `clinic_id` column), and every byte of clinical data is sealed before it is sent
(AES-256-GCM under a key derived from the relay's secret `DIR/relay-db.key` and the clinic's
id, the clinic id and table bound in): the database holds ids, sequence numbers and ciphertext,
never a patient's name. Every relay process serving the same clinics must have a copy of that
key file (and of the relay's identity, `relay.key`/`relay.json`).

A write commits with its clinic's row in `store_seq` locked, so within a clinic the sequence
numbers commit in order and a follower that read up to N never misses a lower one. Writers
`NOTIFY relay_writes, '<clinic id>'`; the follower LISTENs and also polls `store_seq` every
`POLL_S`, so a lost notification delays a change by at most that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg_pool import AsyncConnectionPool

from crdt_model.errors import StoreError
from meshd.lifecycle import Lifecycle

log = logging.getLogger(__name__)

KEY_FILE = "relay-db.key"
URL_FILE = "relay-db.url"
CHANNEL = "relay_writes"
POLL_S = 1.0
POOL_MAX = 8
NONCE_BYTES = 12
STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_seq (clinic_id TEXT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS store_writes (clinic_id TEXT NOT NULL, seq BIGINT NOT NULL,
  writer TEXT NOT NULL, sealed BYTEA NOT NULL, PRIMARY KEY (clinic_id, seq));
CREATE TABLE IF NOT EXISTS store_blobs (clinic_id TEXT NOT NULL, sha256 TEXT NOT NULL,
  sealed BYTEA NOT NULL, PRIMARY KEY (clinic_id, sha256));
"""



class Follower(Protocol):
    """A clinic's store kept up to date with the database."""

    last_seq: int  # the highest sequence number of the clinic this store has applied

    async def catch_up(self) -> None:
        """Apply the clinic's rows written since `last_seq` by other processes."""
        ...


def is_postgres(url: str | None) -> bool:
    """Whether `url` names a PostgreSQL database."""
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def database_url(data_dir: Path, db: str | None = None) -> str | None:
    """The relay's PostgreSQL URL: `db` when given (remembered in the data dir, 0600, for the
    CLI verbs), else the remembered one, else None (SQLite)."""
    path = data_dir / URL_FILE
    if is_postgres(db):
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(str(db))
        return db
    return path.read_text().strip() if path.exists() else None


def master_key(data_dir: Path) -> bytes:
    """The relay's 256-bit database secret, created on first use (0600)."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise StoreError(f"{path} is not a 32-byte key")
    return key


class Sealer:
    """AES-256-GCM under a key derived for one purpose (a clinic's store, the registry)."""

    def __init__(self, master: bytes, purpose: str) -> None:
        key = HKDF(hashes.SHA256(), 32, salt=None,
                   info=b"clinicmesh relay db " + purpose.encode()).derive(master)
        self._aead = AESGCM(key)
        self._purpose = purpose.encode()

    def seal(self, data: bytes, context: str) -> bytes:
        """Nonce + ciphertext of `data`, bound to this purpose and `context`."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, self._purpose + b"|" + context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        """The bytes `seal` sealed; StoreError if they were changed or moved."""
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                      self._purpose + b"|" + context.encode())
        except Exception as exc:
            raise StoreError(f"a sealed row of {self._purpose.decode()} does not open") from exc


class PgDatabase(Lifecycle):
    """One relay process's connections to the shared database: a pool for writes and reads,
    and one listening connection that tells each followed clinic's store to catch up."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.master = master_key(data_dir)
        self.writer_id = os.urandom(8).hex()  # this process, to skip its own rows
        self.pool = AsyncConnectionPool(url, min_size=1, max_size=POOL_MAX, open=False)
        self._followers: dict[str, Follower] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the pool, create the tables, start listening."""
        await self.pool.open(wait=True, timeout=30.0)
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7412)")  # relays starting at once
            await conn.execute(STORE_SCHEMA)
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        """Stop listening and close the pool; safe twice."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.pool.close()

    def follow(self, clinic_id: str, follower: Follower) -> Callable[[], None]:
        """Have `follower` catch up whenever another process may have written to the clinic."""
        self._followers[clinic_id] = follower

        def unfollow() -> None:
            self._followers.pop(clinic_id, None)

        return unfollow

    async def _follow(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url,
                                                                 autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    polled = time.monotonic()
                    while True:
                        heard = {n.payload async for n in
                                 conn.notifies(timeout=POLL_S, stop_after=1)}
                        if not heard or time.monotonic() - polled > POLL_S:
                            heard |= await self._behind()  # a notification may have been lost
                            polled = time.monotonic()
                        await self._catch_up(heard)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: retry, the poll catches up after
                log.exception("following the relay database failed; retrying")
                await asyncio.sleep(POLL_S)

    async def _behind(self) -> set[str]:
        """The followed clinics whose last sequence number is past what their store applied."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute("SELECT clinic_id, seq FROM store_seq")).fetchall()
        return {c for c, seq in rows if c in self._followers and seq > self._followers[c].last_seq}

    async def _catch_up(self, clinic_ids: set[str]) -> None:
        for clinic_id in clinic_ids:
            follower = self._followers.get(clinic_id)
            if follower is None:
                continue
            try:
                await follower.catch_up()
            except Exception:
                log.exception("catching up clinic %s failed", clinic_id)
