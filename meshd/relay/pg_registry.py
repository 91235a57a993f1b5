"""The relay's registry (meshd.relay.registry) in PostgreSQL (`meshd relay --db`): the same
tables, shared by every relay process, with clinics' and services' secrets and the audit's
details sealed (meshd.relay.pg.Sealer); `open_registry` picks the store the data dir names.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from meshd.relay import pg
from meshd.relay.registry import Registry

PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS clinics (
  id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, secret TEXT NOT NULL, created_ms BIGINT,
  revoked_ms BIGINT, mesh_id TEXT, last_contact_ms BIGINT, charts INTEGER DEFAULT 0,
  errors INTEGER DEFAULT 0, last_error TEXT, devices TEXT DEFAULT '[]');
CREATE TABLE IF NOT EXISTS shared (patient_id TEXT, clinic_id TEXT, since_ms BIGINT,
  PRIMARY KEY (patient_id, clinic_id));
CREATE TABLE IF NOT EXISTS audit (seq BIGSERIAL PRIMARY KEY, at_ms BIGINT, clinic_id TEXT,
  action TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS services (id TEXT PRIMARY KEY, name TEXT NOT NULL, clinic_id TEXT
  NOT NULL, secret TEXT NOT NULL, created_ms BIGINT, revoked_ms BIGINT, UNIQUE (name, clinic_id));
CREATE TABLE IF NOT EXISTS downstreams (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL,
  secret TEXT NOT NULL, created_ms BIGINT, revoked_ms BIGINT, relay_key TEXT);
CREATE TABLE IF NOT EXISTS tier_clinics (clinic_id TEXT PRIMARY KEY, downstream_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upstream_links (clinic_id TEXT PRIMARY KEY, state TEXT,
  last_contact_ms BIGINT, backlog INTEGER);
"""


class _Translated:
    """A psycopg connection that takes the registry's `?` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(sql.replace("?", "%s"), params)


class PgRegistry(Registry):
    """The same records in the relay's PostgreSQL database, shared by every relay process;
    clinics' and services' secrets and the audit's details sealed (meshd.relay.pg.Sealer)."""

    _unique = (psycopg.errors.UniqueViolation,)
    _newest_first = "seq DESC"

    def __init__(self, data_dir: Path, url: str) -> None:
        self.url = url
        self._sealer = pg.Sealer(pg.master_key(data_dir), "registry")
        self._lock = threading.Lock()  # one connection, used by one thread at a time
        self._conn: psycopg.Connection[Any] | None = None
        super().__init__(data_dir)

    def _create(self) -> None:
        with self._db() as db:
            db.execute("SELECT pg_advisory_xact_lock(7411)")  # two relays starting at once
            db.execute(PG_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[Any]:
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self.url, autocommit=True)
            with self._conn.transaction():
                yield _Translated(self._conn)

    def close(self) -> None:
        """Close the connection (the next call opens another)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _seal(self, text: str, context: str) -> str:
        return base64.b64encode(self._sealer.seal(text.encode(), context)).decode()

    def _unseal(self, text: str, context: str) -> str:
        return self._sealer.open(base64.b64decode(text), context).decode()


def open_registry(data_dir: Path, db: str | None = None) -> Registry:
    """The relay's registry: in PostgreSQL when `db` (or the URL the data dir remembers from
    `meshd relay --db`) names one, else `DIR/relay.db`."""
    url = pg.database_url(data_dir, db)
    return PgRegistry(data_dir, url) if url else Registry(data_dir)
