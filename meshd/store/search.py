"""How patients are found: folding of names and ids into search keys, and the FTS5 query.

Pure functions shared by the SQLCipher store and the in-memory fake. Folding removes case and
accents ("Núñez" finds "nunez"), so a clinician types names the way the keyboard allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from crdt_model.spelling import close, fold

PATIENT_FIELDS = (
    "id", "given_name", "family_name", "sex", "birth_date", "birth_date_estimated", "phone",
    "village", "national_id", "clinic_id", "merged_into", "number",
)
# Local part of a phone number: "+254 712 345 678" and "0712345678" share their last 9 digits.
PHONE_LOCAL_DIGITS = 9
# The shortest end of a phone number that finds it (4 digits: few enough matches to scan).
PHONE_TAIL_DIGITS = 4
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The folded words of `text` (letters and digits; punctuation separates)."""
    return _WORD.findall(fold(text))


def compact(text: str) -> str:
    """`text` folded with everything but letters and digits removed ("KE-12 34" -> "ke1234")."""
    return "".join(words(text))


def digits(text: str) -> str:
    """Only the digits of `text`."""
    return "".join(c for c in text if c.isdigit())


def patient_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The projection row with every known field present (missing or odd ones are None); a
    birth date is a valid ISO day or None, whatever an older projection stored."""
    clean: dict[str, Any] = {name: _text_or_none(row.get(name)) for name in PATIENT_FIELDS}
    clean["birth_date"] = _day_or_none(clean["birth_date"])
    clean["birth_date_estimated"] = bool(row.get("birth_date_estimated"))
    return clean


def _text_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _day_or_none(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value is not None else None
    except ValueError:
        return None


def search_columns(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """The (names, village, ids) texts indexed for a patient row."""
    names = " ".join(words(f"{row.get('given_name') or ''} {row.get('family_name') or ''}"))
    village = " ".join(words(str(row.get("village") or "")))
    ids: list[str] = []
    for key in ("id", "number", "national_id", "clinic_id"):
        value = str(row.get(key) or "")
        ids.extend(words(value))
        if compact(value) and len(words(value)) > 1:
            ids.append(compact(value))
    phone = digits(str(row.get("phone") or ""))
    if phone:
        ids.append(phone)
        if len(phone) > PHONE_LOCAL_DIGITS:
            ids.append(phone[-PHONE_LOCAL_DIGITS:])
        # Its last digits too, so "345678" finds "+254 712 345678" (people quote the end).
        tails = range(PHONE_TAIL_DIGITS, min(len(phone), PHONE_LOCAL_DIGITS))
        ids.extend(phone[-n:] for n in tails)
    return names, village, " ".join(ids)


# A query made only of digits and the separators people type in phone numbers.
_PHONE_LIKE = re.compile(r"[\d\s()+\-./]+")


def query_clauses(query: str) -> list[list[list[str]]]:
    """What a clinician typed as clauses (any may match) of groups (all must match) of
    alternative word prefixes (any may match)."""
    tokens = words(query)
    if not tokens:
        return []
    if len(tokens) > 1 and _PHONE_LIKE.fullmatch(query.strip()):
        # "0712 345 678": one phone number typed with spaces, not several words.
        return [[_alternatives(digits(query))]]
    clauses = [[_alternatives(t) for t in tokens]]
    if len(tokens) > 1 and " " not in query.strip():
        # One "word" with punctuation (an id like KE-1234-56): also its compact form.
        clauses.append([[compact(query)]])
    return clauses


def _alternatives(token: str) -> list[str]:
    if token.isdigit() and len(token) > PHONE_LOCAL_DIGITS:
        return [token, token[-PHONE_LOCAL_DIGITS:]]
    return [token]


def fts_query(query: str) -> str | None:
    """The FTS5 MATCH expression for what a clinician typed, or None when nothing to search."""
    clauses = query_clauses(query)
    if not clauses:
        return None
    # Tokens are letters and digits only, and quoted: no FTS syntax can get in.
    return " OR ".join(
        "(" + " AND ".join(
            "(" + " OR ".join(f'"{alt}"*' for alt in group) + ")" for group in clause
        ) + ")"
        for clause in clauses
    )


def matches(row: Mapping[str, Any], query: str) -> bool:
    """Whether `row` matches `query` by the same rules as the FTS index (for the fake store)."""
    indexed = " ".join(search_columns(row)).split()
    return any(
        all(any(w.startswith(alt) for alt in group for w in indexed) for group in clause)
        for clause in query_clauses(query)
    )


# Spelling tolerance (crdt_model.spelling) starts at words this long.
FUZZY_MIN_CHARS = 3


def similar(word: str, candidates: list[str], limit: int) -> list[str]:
    """Up to `limit` of `candidates` close to the folded `word` (the word itself excluded)."""
    typed = compact(word)
    if len(typed) < FUZZY_MIN_CHARS:
        return []
    found = sorted({c for c in candidates if c != typed and close(typed, c)})
    return found[:limit]
