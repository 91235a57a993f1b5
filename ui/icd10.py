"""A small ICD-10 list for primary care (data/icd10.tsv), its search, and ICD-10 chapters."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ui.i18n import N_

ICD10_FILE = Path(__file__).parent / "data" / "icd10.tsv"
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


@cache
def codes() -> tuple[Code, ...]:
    """Every code of the shipped list, in file order."""
    rows = []
    for line in ICD10_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, _, label = line.partition("\t")
            rows.append(Code(code.strip(), label.strip()))
    return tuple(rows)


@cache
def _by_code() -> dict[str, Code]:
    return {c.code: c for c in codes()}


def lookup(code: str) -> Code | None:
    """The listed code, or None."""
    return _by_code().get(code.strip().upper())


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.casefold()


def search(query: str, limit: int = MAX_RESULTS) -> list[Code]:
    """Codes whose code starts with `query` or whose label holds every word of it."""
    words = _fold(query).split()
    if not words:
        return []
    prefix = query.strip().upper()
    by_code = [c for c in codes() if c.code.startswith(prefix)]
    by_label = [
        c for c in codes()
        if c not in by_code and all(w in _fold(c.label) for w in words)
    ]
    return (by_code + by_label)[:limit]


def chapter(code: str) -> tuple[str, str]:
    """(chapter number, English title) of a code; ("?", "Unknown") outside every range."""
    head = code.strip().upper()[:3]
    for first, last, number, title in CHAPTERS:
        if first <= head <= last:
            return number, title
    return "?", N_("Unknown")
