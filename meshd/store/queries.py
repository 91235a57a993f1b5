"""What the reader threads do: plain functions of a read connection, one consistent view each.

A read that needs more than one statement runs in one read transaction, so a compaction
committing meanwhile can't make it see a new snapshot without the old chunks, or the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.errors import ClinicMeshError
from meshd.store.base import Attestation, AuditEvent, QueueRow, StockRow, WorklistEntry
from meshd.store.mutations import decode_heads
from meshd.store.schema import SQLiteError
from meshd.store.search import (
    FUZZY_MIN_CHARS,
    PATIENT_FIELDS,
    compact,
    fts_query,
    patient_row,
    similar,
)

# SQLite's limit on bound parameters is large, but a bounded IN list keeps statements cheap.
IN_LIST_MAX = 500
# Above this many matches a search is returned unranked (see search_patients).
RANKED_MATCHES_MAX = 500
_PREFIX_END = "\U0010ffff"
# bm25 weights of the (names, village, ids) columns: a name match ranks first.
_RANK = "bm25(patient_search, 10.0, 2.0, 5.0)"


def read_doc(conn: Any, doc_id: str) -> bytes | None:
    """Snapshot + chunks of `doc_id` (one statement: one consistent view), or None."""
    rows = conn.execute(
        "SELECT 0, 0, snapshot FROM documents WHERE doc_id = ?1"
        " UNION ALL SELECT 1, seq, bytes FROM chunks WHERE doc_id = ?1 ORDER BY 1, 2",
        (doc_id,),
    ).fetchall()
    if not rows or rows[0][0] != 0:
        return None
    return b"".join(bytes(r[2]) for r in rows)


def read_many(conn: Any, doc_ids: Sequence[str]) -> dict[str, bytes]:
    """Snapshot + chunks of each known id among `doc_ids`, in one read transaction."""
    found: dict[str, list[bytes]] = {}
    conn.execute("BEGIN")
    for start in range(0, len(doc_ids), IN_LIST_MAX):
        part = list(doc_ids[start : start + IN_LIST_MAX])
        marks = ",".join("?" * len(part))
        for doc_id, snapshot in conn.execute(
            f"SELECT doc_id, snapshot FROM documents WHERE doc_id IN ({marks})", part
        ):
            found[doc_id] = [bytes(snapshot)]
        for doc_id, data in conn.execute(
            f"SELECT doc_id, bytes FROM chunks WHERE doc_id IN ({marks}) ORDER BY doc_id, seq",
            part,
        ):
            if doc_id in found:
                found[doc_id].append(bytes(data))
    conn.execute("COMMIT")
    return {doc_id: b"".join(parts) for doc_id, parts in found.items()}


def attestations(conn: Any, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
    """The attestations of each of `doc_ids` that has any."""
    found: dict[str, list[Attestation]] = {}
    for start in range(0, len(doc_ids), IN_LIST_MAX):
        part = list(doc_ids[start : start + IN_LIST_MAX])
        for doc_id, actor, seq, hash_, sig in conn.execute(
            "SELECT doc_id, actor, seq, hash, sig FROM attestations WHERE doc_id IN"
            f" ({','.join('?' * len(part))})", part,
        ):
            found.setdefault(doc_id, []).append(
                Attestation(bytes(actor), int(seq), bytes(hash_), bytes(sig)))
    return found


def _prefix_range(prefix: str) -> tuple[str, str]:
    return prefix, prefix + _PREFIX_END


# Oldest write first: the sync index ranks later documents as more recent (meshd.sync.digest).
# The planner would take the primary key for the doc_id range and read every row's page.
HEADS_SQL = ("SELECT doc_id, heads FROM documents INDEXED BY documents_recent"
             " WHERE doc_id >= ? AND doc_id < ? ORDER BY updated_at")


def heads(conn: Any, prefix: str) -> dict[str, tuple[bytes, ...]]:
    """Stored heads of every document whose id starts with `prefix`."""
    rows = conn.execute(HEADS_SQL, _prefix_range(prefix))
    return {doc_id: decode_heads(text) for doc_id, text in rows}


def doc_ids(conn: Any, prefix: str) -> list[str]:
    """Ids of the documents starting with `prefix`, sorted."""
    rows = conn.execute(
        "SELECT doc_id FROM documents WHERE doc_id >= ? AND doc_id < ? ORDER BY doc_id",
        _prefix_range(prefix),
    )
    return [r[0] for r in rows]


def count(conn: Any, prefix: str) -> int:
    """How many documents start with `prefix`."""
    row = conn.execute(
        "SELECT count(*) FROM documents WHERE doc_id >= ? AND doc_id < ?", _prefix_range(prefix)
    ).fetchone()
    return int(row[0])


def search_patients(conn: Any, query: str, limit: int) -> list[dict[str, Any]]:
    """Patient rows matching `query`, best first; merged-away patients after the others."""
    expression = fts_query(query)
    if expression is None or limit <= 0:
        return []
    many = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM patient_search WHERE patient_search MATCH ? LIMIT ?)",
        (expression, RANKED_MATCHES_MAX),
    ).fetchone()[0]
    # Ranking scores every match: beyond a few hundred (a query of one letter) it costs tens of
    # milliseconds and says little, so such a query gets the first rows found.
    order = f"ORDER BY p.merged_into IS NOT NULL, {_RANK}" if many < RANKED_MATCHES_MAX else ""
    rows = conn.execute(
        f"SELECT p.doc_id, {', '.join('p.' + f for f in PATIENT_FIELDS)}"
        f" FROM patient_search JOIN patients AS p ON p.rowid = patient_search.rowid"
        f" WHERE patient_search MATCH ? {order} LIMIT ?",
        (expression, limit),
    )
    found = [
        {"doc_id": row[0], **patient_row(dict(zip(PATIENT_FIELDS, row[1:], strict=True)))}
        for row in rows
    ]
    found.sort(key=lambda row: row["merged_into"] is not None)  # stable: keeps the rank
    return found


def patient_numbers(conn: Any, prefix: str) -> list[str]:
    """The patient numbers of search rows that start with `prefix`."""
    rows = conn.execute(
        "SELECT number FROM patients WHERE number >= ? AND number < ?", (prefix, prefix + "\uffff")
    )
    return [str(r[0]) for r in rows]


def queue_rows(conn: Any, doc_id: str) -> list[QueueRow]:
    """The projected rows of a queue document, in their stored order."""
    rows = conn.execute(
        "SELECT row FROM queue_rows WHERE doc_id = ? ORDER BY position", (doc_id,)
    )
    return [QueueRow.of(json.loads(r[0])) for r in rows]


def stock_levels(conn: Any, doc_id: str) -> dict[str, StockRow]:
    """Drug id -> projected level of a facility document."""
    rows = conn.execute("SELECT drug_id, level FROM stock_levels WHERE doc_id = ?", (doc_id,))
    return {drug: StockRow.of(json.loads(level)) for drug, level in rows}


def worklist(
    conn: Any, kind: str, low: int | str | None, high: int | str | None, limit: int
) -> list[WorklistEntry]:
    """Rows of worklist `kind` within [low, high] (either may be None), by sort key."""
    clauses, params = ["kind = ?"], list[int | str]([kind])
    if low is not None:
        clauses.append("sort_key >= ?")
        params.append(low)
    if high is not None:
        clauses.append("sort_key <= ?")
        params.append(high)
    rows = conn.execute(
        f"SELECT doc_id, key, sort_key, row FROM worklist_rows WHERE {' AND '.join(clauses)}"
        " ORDER BY sort_key, doc_id, key LIMIT ?",
        (*params, limit),
    )
    return [
        WorklistEntry(doc_id, key, sort_key, json.loads(row))
        for doc_id, key, sort_key, row in rows
    ]


def similar_words(conn: Any, word: str, limit: int) -> list[str]:
    """Indexed name and village words close to `word` (same first letter), for misspellings."""
    typed = compact(word)
    if len(typed) < FUZZY_MIN_CHARS:
        return []
    rows = conn.execute(
        "SELECT DISTINCT term FROM patient_terms WHERE term >= ? AND term < ?"
        " AND col IN ('names', 'village')",
        _prefix_range(typed[0]),
    )
    return similar(typed, [r[0] for r in rows], limit)


def reprojection_due(conn: Any, after: str, limit: int) -> list[str]:
    """Ids after `after` of the documents marked for reprojection by a schema upgrade, sorted."""
    rows = conn.execute(
        "SELECT doc_id FROM reproject WHERE doc_id > ? ORDER BY doc_id LIMIT ?", (after, limit)
    )
    return [r[0] for r in rows]


def changed_since(conn: Any, since_ms: int, after: str, limit: int) -> list[str]:
    """Ids after `after` of the documents written on or after `since_ms`, sorted."""
    rows = conn.execute(
        "SELECT doc_id FROM documents WHERE doc_id > ? AND updated_at >= ?"
        " ORDER BY doc_id LIMIT ?",
        (after, since_ms, limit),
    )
    return [r[0] for r in rows]


def audit_events(conn: Any, doc_id: str | None, limit: int) -> list[AuditEvent]:
    """The latest audit rows (of one document when `doc_id`), newest first."""
    columns = "at_ms, user, action, doc_id, origin, detail"
    if doc_id is None:
        rows = conn.execute(
            f"SELECT {columns} FROM audit ORDER BY at_ms DESC, rowid DESC LIMIT ?", (limit,)
        )
    else:
        rows = conn.execute(
            f"SELECT {columns} FROM audit WHERE doc_id = ?"
            " ORDER BY at_ms DESC, rowid DESC LIMIT ?",
            (doc_id, limit),
        )
    return [AuditEvent(*row) for row in rows]


def integrity_problems(conn: Any) -> list[str]:
    """What is wrong with the store: SQLite/SQLCipher page checks, then every document loads."""
    problems: list[str] = []
    for check in ("PRAGMA cipher_integrity_check", "PRAGMA integrity_check"):
        try:
            conn.execute("BEGIN")
            # A long-lived reader's FTS5 keeps the index structure it last read, and the
            # integrity check (SQLite 3.53) compares against that stale copy: a false
            # "checksum mismatch". Any MATCH in the same transaction reloads it first.
            conn.execute("SELECT 1 FROM patient_search WHERE patient_search MATCH 'x' LIMIT 1")
            rows = conn.execute(check).fetchall()
        except SQLiteError as exc:  # damage can stop a check before it lists anything
            problems.append(f"{check}: {exc}")
        else:
            problems += [" ".join(map(str, r)) for r in rows if tuple(r) != ("ok",)]
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    if problems:
        return problems
    for doc_id in doc_ids(conn, ""):
        try:
            Doc.load(read_doc(conn, doc_id) or b"")
        except (ClinicMeshError, SQLiteError) as exc:
            problems.append(f"{doc_id}: {exc}")
    return problems
