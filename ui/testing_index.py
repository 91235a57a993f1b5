"""The in-memory fake's patient search index: words, phone digits and ids, tolerant of spelling.

Words are indexed by their folded form (no accents, lower case); a query word matches an indexed
word by prefix (score 2) or within one or two edits (score 1); phone digits and the start of a
patient id score 3. Every query word must match. Only the distinct words are scanned, not the
patients, so a search of 50,000 fake charts stays quick.
"""

from __future__ import annotations

from collections import defaultdict

from crdt_model.spelling import close, fold
from ui.records import PatientSummary

MIN_FUZZY_CHARS = 3
MIN_PHONE_DIGITS = 4
MIN_ID_CHARS = 6


class PatientIndex:
    """Word → patient ids, phone digits → patient ids."""

    def __init__(self) -> None:
        self._words: dict[str, set[str]] = defaultdict(set)
        self._phones: dict[str, set[str]] = defaultdict(set)
        self._ids: set[str] = set()

    @staticmethod
    def _terms(p: PatientSummary) -> tuple[set[str], str]:
        fields = [p.given_name, p.family_name, p.village or "", p.national_id or ""]
        return set(fold(" ".join(fields)).split()), "".join(c for c in p.phone or "" if c.isdigit())

    def add(self, p: PatientSummary) -> None:
        """Index a patient's current search row."""
        words, digits = self._terms(p)
        for word in words:
            self._words[word].add(p.id)
        if digits:
            self._phones[digits].add(p.id)
        self._ids.add(p.id)

    def remove(self, p: PatientSummary) -> None:
        """Forget a patient's old search row (before re-adding a changed one)."""
        words, digits = self._terms(p)
        for word in words:
            self._words[word].discard(p.id)
        self._phones[digits].discard(p.id)
        self._ids.discard(p.id)

    def _scores(self, word: str) -> dict[str, int]:
        scores: dict[str, int] = {}

        def mark(ids: set[str], score: int) -> None:
            for pid in ids:
                scores[pid] = max(scores.get(pid, 0), score)

        if len(word) >= MIN_ID_CHARS:
            mark({pid for pid in self._ids if pid.startswith(word)}, 3)
        if word.isdigit() and len(word) >= MIN_PHONE_DIGITS:
            for digits, ids in self._phones.items():
                if word in digits:
                    mark(ids, 3)
        for indexed, ids in self._words.items():
            if indexed.startswith(word):
                mark(ids, 2)
            elif len(word) >= MIN_FUZZY_CHARS and close(word, indexed):
                mark(ids, 1)
        return scores

    def search(self, query: str) -> dict[str, int]:
        """Patient id → score for patients matching every word of `query`."""
        total: dict[str, int] | None = None
        for word in fold(query).split():
            scores = self._scores(word)
            if total is None:
                total = scores
            else:
                total = {pid: s + scores[pid] for pid, s in total.items() if pid in scores}
            if not total:
                return {}
        return total or {}
