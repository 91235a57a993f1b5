"""Allergy checks: which recorded allergies a drug clashes with (pure, on a chart document).

Allergies and drugs are compared by WHO ATC code, so an allergy to a class covers its members
and cross-reacting classes: a penicillin allergy covers amoxicillin and the other beta-lactams,
a sulfonamide allergy covers co-trimoxazole, an aspirin allergy covers every NSAID. A code comes
from the entry itself (an allergy recorded against a class or substance, a catalogue drug) or
from the names in its text (the class words below in the four languages, and the names of known
medicines the caller passes in). Text that names no known medicine is still compared as words:
a clash is a substance that names the drug, is named by it, or shares a word of four letters or
more with it, without case or accents. Prescribing a clashing drug needs an override reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from crdt_model.adapter import Doc
from crdt_model.chart_doc import chart_root, entries_of, status_of

MIN_WORD_CHARS = 4

# Classes an allergy is recorded against: ATC code -> (English name, words naming it in the four
# languages of the clinic). The names are what the allergy list shows; the UI translates them.
ALLERGY_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "J01C": ("Penicillins", (
        "penicillin", "penicilline", "penicilina", "penisilini", "beta lactam",
        "betalactam", "beta lactamine", "betalactamico", "betalactamicos")),
    "J01D": ("Cephalosporins", (
        "cephalosporin", "cephalosporine", "cefalosporina", "sefalosporini")),
    "J01E": ("Sulfonamides (sulfa drugs)", (
        "sulfa", "sulpha", "sulfonamide", "sulphonamide", "sulfamide", "sulfamida",
        "sulfonamida", "salfa", "sulfonamidi")),
    "M01A": ("NSAIDs (anti-inflammatory painkillers)", (
        "nsaid", "ains", "aine", "nsaids", "anti inflammatoire", "antiinflamatorio",
        "antiinflamatorios")),
    "J01FA": ("Macrolides", ("macrolide", "macrolido", "makrolidi")),
    "J01MA": ("Fluoroquinolones", ("quinolone", "fluoroquinolone", "quinolona", "kwinoloni")),
    "J01AA": ("Tetracyclines", ("tetracycline", "tetraciclina", "tetrasaiklini")),
    "J01GB": ("Aminoglycosides", ("aminoglycoside", "aminoside", "aminoglucosido")),
    "N02A": ("Opioids", ("opioid", "opioide", "opiace", "opiate", "opioidi")),
    "P01B": ("Antimalarials", ("antimalarial", "antipaludique", "antipaludico",
                               "antimalarico", "dawa za malaria")),
}

# Classes that cross-react: an allergy inside one group warns for every drug of the group.
CROSS_REACTING: tuple[tuple[str, ...], ...] = (
    ("J01C", "J01D"),  # beta-lactams: penicillins, cephalosporins and the rest of J01D
    ("J01EB", "J01EC", "J01ED", "J01EE", "P01BD51", "J01E"),  # sulfonamides, alone or combined
    ("M01A", "N02BA", "B01AC06"),  # NSAIDs, including aspirin
    ("J01FA",), ("J01MA",), ("J01AA",), ("J01GB",), ("N02A", "R05DA"),
)


def fold(text: str) -> str:
    """Lower case ASCII words separated by single spaces ("Co-Trimoxazole" -> "co trimoxazole")."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def class_names() -> dict[str, str]:
    """Folded class word -> ATC class code."""
    return {fold(word): code for code, (label, words) in ALLERGY_CLASSES.items()
            for word in (label, *words)}


def codes_in(text: str, names: Mapping[str, str]) -> set[str]:
    """The ATC codes of every known name (folded, singular or plural) that `text` contains."""
    padded = f" {fold(text)} "
    return {code for name, code in names.items()
            if name and (f" {name} " in padded or f" {name}s " in padded)}


def _group(code: str) -> set[int]:
    return {i for i, group in enumerate(CROSS_REACTING) if code.startswith(group)}


def codes_clash(allergy: Iterable[str], drug: Iterable[str]) -> bool:
    """True when a drug code falls in an allergy's class or in a class that cross-reacts."""
    drug = list(drug)
    return any(
        d.startswith(a) or a.startswith(d) or _group(a) & _group(d)
        for a in allergy for d in drug
    )


def _words_clash(substance: str, drug: str) -> bool:
    return bool(substance) and (substance in drug or drug in substance or any(
        word in drug for word in substance.split() if len(word) >= MIN_WORD_CHARS
    ))


def live_allergies(doc: Doc) -> list[dict[str, object]]:
    """The chart's live (not voided or corrected away) allergy entries, oldest first."""
    entries = entries_of(chart_root(doc))
    status = status_of(entries)
    return [dict(entry) for entry_id, entry in entries.items()
            if entry.get("kind") == "allergy" and status.live(entry_id)]


def allergy_clashes(
    doc: Doc, drug: str, drug_atc: str | None = None, names: Mapping[str, str] | None = None,
) -> list[str]:
    """The substances of the chart's live allergies that `drug` (of code `drug_atc`, if known)
    clashes with; `names` maps folded medicine names to their ATC codes."""
    known = {**class_names(), **(names or {})}
    drug_codes = codes_in(drug, known) | ({drug_atc} if drug_atc else set())
    clashes = []
    for entry in live_allergies(doc):
        substance = str(entry.get("substance", ""))
        atc = entry.get("atc")
        codes = codes_in(substance, known) | ({atc} if isinstance(atc, str) else set())
        if codes_clash(codes, drug_codes) or _words_clash(fold(substance), fold(drug)):
            clashes.append(substance)
    return clashes
