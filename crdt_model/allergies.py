"""Allergy checks: which recorded allergies a drug clashes with (pure, on a chart document).

A clash is a live allergy whose substance names the drug, is named by it, or shares a word of
four letters or more with it ("penicillin" and "Amoxicillin/penicillin V"), compared without
case or accents. Prescribing a clashing drug needs an explicit override reason.
"""

from __future__ import annotations

import unicodedata

from crdt_model.adapter import Doc
from crdt_model.chart_doc import chart_root, entries_of, status_of

MIN_WORD_CHARS = 4


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


def allergy_clashes(doc: Doc, drug: str) -> list[str]:
    """The substances of the chart's live allergies that `drug` clashes with."""
    entries = entries_of(chart_root(doc))
    status = status_of(entries)
    name = _fold(drug)
    clashes = []
    for entry_id, entry in entries.items():
        if entry.get("kind") != "allergy" or not status.live(entry_id):
            continue
        substance = _fold(str(entry.get("substance", "")))
        if substance and (substance in name or name in substance or any(
            word in name for word in substance.split() if len(word) >= MIN_WORD_CHARS
        )):
            clashes.append(str(entry["substance"]))
    return clashes
