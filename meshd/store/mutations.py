"""What the writer thread does inside a transaction: append document bytes, replace their
projection rows, add audit rows, and fold a document's chunks into a new snapshot.

Every function takes an open connection already inside a transaction and never commits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from crdt_model.adapter import Doc
from meshd.store.base import AuditEvent, DocWrite, Projections
from meshd.store.search import PATIENT_FIELDS, patient_row, search_columns


def encode_heads(heads: Sequence[bytes]) -> str:
    """Heads as stored: hex, comma-separated."""
    return ",".join(bytes(h).hex() for h in heads)


def decode_heads(text: str) -> tuple[bytes, ...]:
    """Heads as stored back to bytes."""
    return tuple(bytes.fromhex(h) for h in text.split(",")) if text else ()


def apply_writes(
    conn: Any, writes: Sequence[DocWrite], audit: Sequence[AuditEvent], now_ms: int
) -> list[tuple[str, int]]:
    """Append every write and audit row; returns (doc id, chunk count) of each touched doc."""
    counts = [_append(conn, write, now_ms) for write in writes]
    conn.executemany(
        "INSERT INTO audit (at_ms, user, action, doc_id, origin, detail) VALUES (?,?,?,?,?,?)",
        [(e.at_ms, e.user, e.action, e.doc_id, e.origin, e.detail) for e in audit],
    )
    return counts


def _append(conn: Any, write: DocWrite, now_ms: int) -> tuple[str, int]:
    heads = encode_heads(write.heads)
    found = conn.execute(
        "SELECT chunk_count FROM documents WHERE doc_id = ?", (write.doc_id,)
    ).fetchone()
    if write.snapshot or found is None:
        chunk_count = 0
        conn.execute("DELETE FROM chunks WHERE doc_id = ?", (write.doc_id,))
        conn.execute(
            "INSERT OR REPLACE INTO documents (doc_id, heads, updated_at, chunk_count, snapshot)"
            " VALUES (?, ?, ?, 0, ?)",
            (write.doc_id, heads, now_ms, bytes(write.data)),
        )
    else:
        chunk_count = int(found[0])
        if write.data:
            chunk_count += 1
            conn.execute(
                "INSERT INTO chunks (doc_id, seq, bytes) VALUES (?, (SELECT coalesce(max(seq), 0)"
                " + 1 FROM chunks WHERE doc_id = ?), ?)",
                (write.doc_id, write.doc_id, bytes(write.data)),
            )
        conn.execute(
            "UPDATE documents SET heads = ?, updated_at = ?, chunk_count = ? WHERE doc_id = ?",
            (heads, now_ms, chunk_count, write.doc_id),
        )
    if write.projections is not None:
        replace_projections(conn, write.doc_id, write.projections)
    conn.executemany(
        "INSERT INTO attestations (doc_id, actor, seq, hash, sig) VALUES (?,?,?,?,?)"
        " ON CONFLICT (doc_id, actor) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
        " sig = excluded.sig WHERE excluded.seq > attestations.seq",
        [(write.doc_id, a.actor, a.seq, a.hash, a.sig) for a in write.attestations],
    )
    return write.doc_id, chunk_count


def replace_projections(conn: Any, doc_id: str, projections: Projections) -> None:
    """Make the projection rows of `doc_id` exactly `projections`."""
    _replace_patient(conn, doc_id, projections.patient)
    conn.execute("DELETE FROM queue_rows WHERE doc_id = ?", (doc_id,))
    conn.executemany(
        "INSERT INTO queue_rows (doc_id, position, row) VALUES (?, ?, ?)",
        [(doc_id, i, _json(row)) for i, row in enumerate(projections.queue)],
    )
    conn.execute("DELETE FROM stock_levels WHERE doc_id = ?", (doc_id,))
    conn.executemany(
        "INSERT INTO stock_levels (doc_id, drug_id, level) VALUES (?, ?, ?)",
        [(doc_id, str(drug), _json(level)) for drug, level in projections.stock.items()],
    )
    conn.execute("DELETE FROM worklist_rows WHERE doc_id = ?", (doc_id,))
    conn.executemany(
        "INSERT OR REPLACE INTO worklist_rows (kind, doc_id, key, sort_key, row)"
        " VALUES (?, ?, ?, ?, ?)",
        [(w.kind, doc_id, w.key, w.sort_key, _json(w.row)) for w in projections.worklists],
    )
    conn.execute("DELETE FROM reproject WHERE doc_id = ?", (doc_id,))


def _replace_patient(conn: Any, doc_id: str, row: Mapping[str, Any] | None) -> None:
    old = conn.execute("SELECT rowid FROM patients WHERE doc_id = ?", (doc_id,)).fetchone()
    if old is not None:
        conn.execute("DELETE FROM patient_search WHERE rowid = ?", (old[0],))
        conn.execute("DELETE FROM patients WHERE rowid = ?", (old[0],))
    if row is None:
        return
    values = patient_row(row)
    cursor = conn.execute(
        f"INSERT INTO patients (doc_id, {', '.join(PATIENT_FIELDS)})"
        f" VALUES (?{', ?' * len(PATIENT_FIELDS)})",
        (doc_id, *(values[name] for name in PATIENT_FIELDS)),
    )
    conn.execute(
        "INSERT INTO patient_search (rowid, names, village, ids) VALUES (?, ?, ?, ?)",
        (cursor.lastrowid, *search_columns(values)),
    )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def compact(conn: Any, doc_id: str) -> bool:
    """Fold the chunks of `doc_id` into its snapshot; False when there was nothing to fold.

    Runs inside the writer's transaction, so no chunk can be appended between the read and the
    delete; the delete is still bounded by the last chunk read, to be safe by construction.
    """
    rows = conn.execute(
        "SELECT seq, bytes FROM chunks WHERE doc_id = ? ORDER BY seq", (doc_id,)
    ).fetchall()
    if not rows:
        return False
    snapshot = conn.execute(
        "SELECT snapshot FROM documents WHERE doc_id = ?", (doc_id,)
    ).fetchone()
    if snapshot is None:
        return False
    folded = Doc.load(bytes(snapshot[0]) + b"".join(bytes(r[1]) for r in rows)).save()
    last_seq = int(rows[-1][0])
    conn.execute("DELETE FROM chunks WHERE doc_id = ? AND seq <= ?", (doc_id, last_seq))
    remaining = conn.execute(
        "SELECT count(*) FROM chunks WHERE doc_id = ?", (doc_id,)
    ).fetchone()[0]
    conn.execute(
        "UPDATE documents SET snapshot = ?, chunk_count = ? WHERE doc_id = ?",
        (folded, int(remaining), doc_id),
    )
    return True
