"""Where the relay keeps each clinic's store: a SQLCipher file per clinic in the data dir
(`SqliteStores`, the default) or PostgreSQL (meshd.relay.pg_store.PgStores)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from meshd.docs import Documents
from meshd.store import keys
from meshd.store.base import Store
from meshd.store.sqlcipher import SqlCipherStore

STORE_FILE = "store.db"


class SpaceStore(Store, Protocol):
    """A clinic's store on the relay: the Store, closed by `stop`."""

    async def stop(self) -> None:
        """Close it; safe twice."""
        ...


class SpaceStores(Protocol):
    """Where the relay keeps clinics' stores: SQLCipher files (SqliteStores) or PostgreSQL
    (meshd.relay.pg_store.PgStores)."""

    async def open(self, clinic_id: str, path: Path) -> SpaceStore:
        """The clinic's store, started (`path` is its folder in the data dir)."""
        ...

    async def follow(self, store: Store, documents: Documents) -> None:
        """Once the space's Documents exist: anything the store needs of them."""
        ...


class SqliteStores:
    """One SQLCipher file per clinic, `DIR/clinics/<id>/store.db`, its key beside it."""

    async def open(self, clinic_id: str, path: Path) -> SpaceStore:
        """The clinic's SQLCipher store, opened."""
        key = await asyncio.to_thread(_store_key, path)
        store = SqlCipherStore(path / STORE_FILE, key)
        await store.start()
        return store

    async def follow(self, store: Store, documents: Documents) -> None:
        """Nothing: only this process writes the file."""


def _store_key(path: Path) -> bytes:
    return keys.load_key(path) if keys.key_path(path).exists() else keys.create_key(path)
