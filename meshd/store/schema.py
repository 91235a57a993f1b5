"""Opening the encrypted database file, and its schema: versioned in `PRAGMA user_version`.

Opening checks the key before anything can write: a wrong key or a file that is not a store
raises StoreError and leaves the file (and its -wal) exactly as it was. Migrations run in order,
each in its own transaction; a store written by a newer meshd is refused, never downgraded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlcipher3

from crdt_model.errors import StoreError

SQLiteError = sqlcipher3.Error
BUSY_TIMEOUT_MS = 10_000
# Page cache per connection (a writer and two readers): SQLite's default. At 8 MB each, the
# three caches filled at start-up (the heads and compaction scans) held 12–18 MB more of a 50,000
# chart node, with search p95 ~9 ms either way: the OS keeps the file's pages cached anyway.
READER_CACHE_KIB = 2_000

_V1 = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    heads TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    snapshot BLOB NOT NULL  -- last: small columns are read without walking overflow pages
);
CREATE TABLE chunks (
    doc_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
CREATE TABLE patients (
    doc_id TEXT PRIMARY KEY,
    id TEXT, given_name TEXT, family_name TEXT, sex TEXT, birth_date TEXT, phone TEXT,
    village TEXT, national_id TEXT, clinic_id TEXT, merged_into TEXT
);
CREATE VIRTUAL TABLE patient_search USING fts5(
    names, village, ids, prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE queue_rows (
    doc_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (doc_id, position)
) WITHOUT ROWID;
CREATE TABLE stock_levels (
    doc_id TEXT NOT NULL,
    drug_id TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (doc_id, drug_id)
) WITHOUT ROWID;
CREATE TABLE audit (
    at_ms INTEGER NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_doc ON audit (doc_id, at_ms);
CREATE INDEX audit_by_time ON audit (at_ms);
"""

# v2: worklists and report facts of charts (pending lab orders and prescriptions, open review
# items, visits), one generic table keyed by list kind; charts stored before it are marked for
# reprojection, which the node does in the background after opening (see Documents.reproject).
_V2 = """
CREATE TABLE worklist_rows (
    kind TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    key TEXT NOT NULL,
    sort_key NOT NULL,  -- no affinity: ints stay ints, days stay text
    row TEXT NOT NULL,
    PRIMARY KEY (kind, doc_id, key)
) WITHOUT ROWID;
CREATE INDEX worklist_by_sort ON worklist_rows (kind, sort_key);
CREATE INDEX worklist_by_doc ON worklist_rows (doc_id);
CREATE TABLE reproject (doc_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE VIRTUAL TABLE patient_terms USING fts5vocab(patient_search, 'col');
INSERT INTO reproject (doc_id)
    SELECT doc_id FROM documents WHERE doc_id LIKE 'chart:%';
"""

# v3: sync reads the heads of every document at start-up; without a covering index that walks
# every page of the documents table (snapshots included), ~0.5 s for 50,000 charts. Search rows
# say whether a birth date is estimated, so the charts are reprojected.
_V3 = """
CREATE INDEX documents_heads ON documents (doc_id, heads);
ALTER TABLE patients ADD COLUMN birth_date_estimated INTEGER;
INSERT OR IGNORE INTO reproject (doc_id)
    SELECT doc_id FROM documents WHERE doc_id LIKE 'chart:%';
"""

# v4: search rows carry the short patient number (crdt_model.patient_number), found by search,
# and the pharmacy's worklist rows the allergies, instructions and overrides: reproject charts.
_V4 = """
ALTER TABLE patients ADD COLUMN number TEXT;
CREATE INDEX patients_by_number ON patients (number);
INSERT OR IGNORE INTO reproject (doc_id)
    SELECT doc_id FROM documents WHERE doc_id LIKE 'chart:%';
"""

# v5: each device signs its changes (docs/ARCHITECTURE.md §6). Per document and actor, the
# signature of that actor's latest change is kept: Automerge hashes chain every change to its
# parents, so it vouches for all the actor's earlier changes too.
_V5 = """
CREATE TABLE attestations (
    doc_id TEXT NOT NULL,
    actor BLOB NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    sig BLOB NOT NULL,
    PRIMARY KEY (doc_id, actor)
) WITHOUT ROWID;
"""

# v6: attachments (photos, scanned documents) beside the documents, never inside them: a blob
# is named by its SHA-256 and kept as chunks of BLOB_CHUNK_BYTES, so a peer asking for one chunk
# reads one row (crdt_model.attachments, meshd.sync.blobs). Rowid tables: big rows.
_V6 = """
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
);
"""

# v7: sync lists the heads oldest write first, so a bulk sync sends recent documents first
# (meshd.sync.digest); the covering index is in that order, so start-up still reads no snapshot.
_V7 = """
DROP INDEX documents_heads;
CREATE INDEX documents_recent ON documents (updated_at, doc_id, heads);
"""

# v8: worklist rows (JSON of a few hundred bytes each) move to a rowid table: rows go in at the
# end of the table instead of at random places in a primary-key b-tree, which split and wrote
# leaf pages of the whole table (measured: 99 kB written per chart received, 0.67 ms of the
# writer's CPU; scripts/bench/ingest_cost). The indexes keep an item unique per chart and kind,
# and still give a kind's rows in (sort key, doc id, key) order without sorting.
_V8 = """
CREATE TABLE worklist_items (
    kind TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    key TEXT NOT NULL,
    sort_key NOT NULL,  -- no affinity: ints stay ints, days stay text
    row TEXT NOT NULL
);
INSERT INTO worklist_items (kind, doc_id, key, sort_key, row)
    SELECT kind, doc_id, key, sort_key, row FROM worklist_rows;
DROP TABLE worklist_rows;
ALTER TABLE worklist_items RENAME TO worklist_rows;
CREATE UNIQUE INDEX worklist_by_doc ON worklist_rows (doc_id, kind, key);
CREATE INDEX worklist_by_sort ON worklist_rows (kind, sort_key, doc_id, key);
"""

# MIGRATIONS[i] takes the schema from version i to i + 1. Append only; never edit a shipped one.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, key: bytes, *, create: bool) -> Any:
    """An open connection to the store at `path`, keyed and checked; StoreError if it can't be."""
    if len(key) != 32:
        raise StoreError("the store key must be 32 bytes")
    exists = path.exists() and path.stat().st_size > 0
    if not exists and not create:
        raise StoreError(f"no store at {path}")
    if exists:
        _check_key(path, key)
    # mode=rw never creates a file; an empty file is an interrupted creation: start it afresh.
    mode = "rw" if path.exists() else "rwc"
    conn = _open(path, key, mode)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except SQLiteError as exc:
        conn.close()
        raise StoreError(f"can't open the store at {path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: the WAL is fsynced at every COMMIT, so an acknowledged write survives power loss.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
    except SQLiteError as exc:
        conn.close()
        raise StoreError(f"can't open the store at {path}: {exc}") from exc
    return conn


def _open(path: Path, key: bytes, mode: str, flags: str = "") -> Any:
    try:
        conn = sqlcipher3.connect(
            f"file:{quote(str(path))}?mode={mode}{flags}", uri=True, isolation_level=None,
            check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except SQLiteError as exc:
        raise StoreError(f"can't open the store at {path}: {exc}") from exc
    try:
        # SQLCipher logs every failed page decryption to stderr; the caller gets StoreError.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    except SQLiteError as exc:
        conn.close()
        raise StoreError(f"can't open the store at {path}: {exc}") from exc
    return conn


def _check_key(path: Path, key: bytes) -> None:
    """Decrypt the store's schema, read-only, before any connection may write.

    `immutable=1` keeps SQLite away from the -wal and -shm files: an ordinary connection that
    fails on a wrong key still checkpoints and deletes a leftover -wal when it closes. But a
    process killed during a checkpoint leaves a main file that is consistent only with its
    WAL; then a copy of the pair is checked, so the originals stay untouched either way.
    """
    try:
        _read_version(path, key, "&immutable=1")
        return
    except SQLiteError as exc:
        wal = Path(f"{path}-wal")
        if not wal.exists() or wal.stat().st_size == 0:
            raise _damaged(path) from exc
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".check-") as scratch:
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        shutil.copyfile(wal, f"{copy}-wal")
        try:
            _read_version(copy, key, "")
        except SQLiteError as exc:
            raise _damaged(path) from exc


def _read_version(path: Path, key: bytes, flags: str) -> None:
    conn = _open(path, key, "ro" if flags else "rw", flags)
    try:
        conn.execute("PRAGMA user_version").fetchone()
    finally:
        conn.close()


def _damaged(path: Path) -> StoreError:
    return StoreError(f"can't open the store at {path}: wrong key, or the file is damaged or "
                      "not a clinicmesh store; nothing was changed")


def migrate(conn: Any, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION, one migration per transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store at {path} was written by a newer meshd (schema {version}); upgrade meshd"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(MIGRATIONS[target - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except SQLiteError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(
                f"can't upgrade the store at {path} to schema {target}: {exc}"
            ) from exc


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def secure_file_mode(path: Path) -> None:
    """Keep the store files readable by this user only (they are encrypted, but still)."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            os.chmod(candidate, 0o600)
