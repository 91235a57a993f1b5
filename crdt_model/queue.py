"""The day's patient flow `queue:<facility>:<YYYY-MM-DD>`: who waits at which station.

Starts from a deterministic genesis so every device can open today's queue while apart. A
patient's place is never overwritten: every move is its own record (move_id -> station, step,
time), where `step` is one more than the moves its writer had seen. The current station is the
move with the highest (step, at, move id), the same on every device: a move made after another
always wins, even within the same millisecond; concurrent moves fall back to time.
"""

from __future__ import annotations

from typing import Any

from crdt_model.adapter import Doc, Tx
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound
from crdt_model.ids import QUEUE, SCHEMA_VERSION, check_entry_id, check_uuid, queue_id
from crdt_model.validate import choice

STATIONS = ("registration", "triage", "consultation", "lab", "pharmacy", "done")
# Where a patient usually goes from each station: a lab result goes back to the clinician, a
# consultation ends at the pharmacy (the menus offer it first; any station may be chosen).
NEXT_STATION = {"registration": "triage", "triage": "consultation", "consultation": "pharmacy",
                "lab": "consultation", "pharmacy": "done", "done": "done"}
ENTRIES = ("entries",)
MOVES = ("moves",)


def next_station(station: str) -> str:
    """The station a patient at `station` usually goes to next."""
    return NEXT_STATION.get(station, "triage")


def queue_genesis(facility: str, day: str, author: Author) -> Doc:
    """The queue of `facility` on `day` as every device starts it, writing next as `author`."""
    doc_id = queue_id(facility, day)

    def build(tx: Tx) -> None:
        tx.update((), {
            "schema": SCHEMA_VERSION, "type": QUEUE, "id": doc_id, "facility": facility,
            "date": day, "entries": {}, "moves": {},
        })

    return Doc.genesis(doc_id, build, author.actor)


def _root(doc: Doc) -> dict[str, Any]:
    root = doc.to_dict()
    if root.get("type") != QUEUE or not isinstance(root.get("entries"), dict):
        raise NotFound("this document is not a queue", field="doc")
    if not isinstance(root.get("moves"), dict):
        root["moves"] = {}
    return root


def enqueue(
    doc: Doc, patient_id: str, station: str, author: Author, entry_id: str
) -> list[bytes]:
    """Put a patient in the queue at `station`."""
    pid = check_uuid(patient_id)
    choice(station, "station", STATIONS)
    check_entry_id(entry_id)
    if entry_id in _root(doc)["entries"]:
        raise ConflictError(f"queue entry {entry_id!r} already exists", field="entry_id")
    body = {"patient_id": pid, "station": station, **author.stamp()}
    doc.set_actor(author.actor)
    return doc.change(lambda tx: tx.put(ENTRIES, entry_id, body))


def move_to(
    doc: Doc, entry_id: str, station: str, author: Author, move_id: str
) -> list[bytes]:
    """Send a queued patient to `station`."""
    choice(station, "station", STATIONS)
    check_entry_id(entry_id)
    check_entry_id(move_id, "move_id")
    root = _root(doc)
    if entry_id not in root["entries"]:
        raise NotFound(f"no queue entry {entry_id!r}", field="entry_id")
    if move_id in root["moves"]:
        raise ConflictError(f"move {move_id!r} already exists", field="move_id")
    step = 1 + max((_step(m) for m in root["moves"].values()
                    if isinstance(m, dict) and m.get("entry_id") == entry_id), default=0)
    body = {"entry_id": entry_id, "station": station, "step": step, **author.stamp()}
    doc.set_actor(author.actor)
    return doc.change(lambda tx: tx.put(MOVES, move_id, body))


def mark_done(doc: Doc, entry_id: str, author: Author, move_id: str) -> list[bytes]:
    """The patient has left: move them to `done`."""
    return move_to(doc, entry_id, "done", author, move_id)


def _at(record: dict[str, Any]) -> int:
    at = record.get("at")
    return at if isinstance(at, int) else 0


def _step(record: dict[str, Any]) -> int:
    step = record.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else 0


def queue_rows(doc: Doc) -> list[dict[str, Any]]:
    """One row per queued patient: entry_id, patient_id, station, since_ms, enqueued_ms."""
    root = _root(doc)
    latest: dict[str, tuple[int, int, str, str]] = {}
    for entry_id, entry in root["entries"].items():
        if isinstance(entry, dict):
            latest[entry_id] = (0, _at(entry), "", str(entry.get("station")))
    for move_id, move in root["moves"].items():
        if not isinstance(move, dict) or move.get("entry_id") not in latest:
            continue
        candidate = (_step(move), _at(move), move_id, str(move.get("station")))
        target = str(move["entry_id"])
        latest[target] = max(latest[target], candidate)
    rows = [
        {
            "entry_id": entry_id,
            "patient_id": root["entries"][entry_id].get("patient_id"),
            "station": station,
            "since_ms": since,
            "enqueued_ms": _at(root["entries"][entry_id]),
        }
        for entry_id, (_, since, _, station) in latest.items()
    ]
    return sorted(rows, key=lambda r: (r["enqueued_ms"], r["entry_id"]))
