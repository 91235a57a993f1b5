"""Realistic chart pairs for sync tests: a few changes apart, or with a forced false positive."""

from __future__ import annotations

import random
import uuid

from crdt_model import chart, sync_message
from crdt_model.adapter import Doc, PeerSyncState
from crdt_model.context import Author
from crdt_model.sample import COMPLAINTS, build_sample_chart

AT_MS = 1_763_800_000_000


def edit(doc: Doc, author: Author, rng: random.Random) -> None:
    """One realistic clinical write: a note, an allergy, a diagnosis or a visit."""
    entry = f"{rng.getrandbits(64):016x}"
    kind = rng.randrange(4)
    if kind == 0:
        chart.add_note(doc, {"text": f"Review {rng.randrange(10**6)}."}, author, entry)
    elif kind == 1:
        chart.record_allergy(doc, {"substance": rng.choice(("Penicillin", "Sulfa"))},
                             author, entry)
    elif kind == 2:
        chart.record_diagnosis(doc, {"code": "B54", "label": "Malaria"}, author, entry)
    else:
        chart.open_encounter(doc, {"chief_complaint": rng.choice(COMPLAINTS)}, author, entry)


def chart_pair(i: int, rng: random.Random) -> tuple[Doc, Doc]:
    """Two copies of one chart: the second a few changes ahead, sometimes both branched."""
    base_author = Author("aa" * 8, "01" * 8, AT_MS)
    doc = build_sample_chart(str(uuid.UUID(int=i)), base_author, rng)
    ahead = doc.fork(doc.actor())
    behind = doc.fork(doc.actor())
    for n in range(rng.randint(1, 6)):
        edit(ahead, Author("bb" * 8, "02" * 8, AT_MS + 1000 * n), rng)
    if rng.random() < 0.5:  # a concurrent branch on the other copy
        for n in range(rng.randint(1, 3)):
            edit(behind, Author("cc" * 8, "03" * 8, AT_MS + 1000 * n), rng)
    return behind, ahead


def false_positive_pair(rng: random.Random) -> tuple[Doc, Doc, bytes]:
    """Two branches of a chart, where the Bloom filter of one falsely claims a change of the other.

    The sender withholds a change the filter claims, and sends what depends on it. So the
    change must sit directly on the common base (a descendant of anything sent is sent too):
    candidates are made there until one hash lands on set bits, then a dependent goes on top.
    """
    base = build_sample_chart(str(uuid.UUID(int=7)), Author("aa" * 8, "01" * 8, AT_MS), rng)
    behind = base.fork(base.actor())
    for n in range(40):  # its own branch; a larger filter makes a false positive quicker to find
        edit(behind, Author("cc" * 8, "03" * 8, AT_MS + n), rng)
    (bloom,) = sync_message.decode(first_message(behind)).blooms
    for attempt in range(20_000):
        ahead = base.fork(base.actor())
        edit(ahead, Author("bb" * 8, "02" * 8, AT_MS + attempt), rng)
        withheld = ahead.history()[-1].hash
        if sync_message.bloom_contains(bloom, withheld):
            edit(ahead, Author("bb" * 8, "02" * 8, AT_MS + attempt + 1), rng)
            return behind, ahead, withheld
    raise AssertionError("no false positive found")


def first_message(doc: Doc) -> bytes:
    message = doc.generate_sync_message(PeerSyncState())
    assert message is not None
    return message
