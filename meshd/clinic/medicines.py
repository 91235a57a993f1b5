"""The reference list of medicines shipped with clinicmesh (`data/essential_medicines.json`):
the default catalogue a new facility starts with (primary-care items of the WHO Model List of
Essential Medicines, with WHO ATC codes) and the names by which the allergy check knows them.

Read once from package data; nothing here writes a document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from crdt_model.allergies import fold


@cache
def _reference() -> dict[str, Any]:
    data = resources.files("meshd.clinic").joinpath("data/essential_medicines.json")
    loaded: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return loaded


def default_catalogue() -> list[dict[str, Any]]:
    """The drugs a new facility starts with: {id, name, atc, unit, reorder_level}."""
    keys = ("name", "atc", "unit", "reorder_level")
    return [{"id": d["id"], **{k: d[k] for k in keys}} for d in _reference()["catalogue"]]


@cache
def reference_names() -> dict[str, str]:
    """Folded name of every reference medicine (and its other names) -> its ATC code."""
    medicines = [*_reference()["catalogue"], *_reference()["substances"]]
    return {fold(n): m["atc"] for m in medicines for n in (m["name"], *m.get("names", ()))}


def known_names(catalogue: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The reference names with the facility's own catalogue entries that carry a code."""
    own = {fold(str(d.get("name"))): str(d["atc"]) for d in catalogue.values() if d.get("atc")}
    return {**reference_names(), **own}


def substances() -> list[tuple[str, str]]:
    """(name, ATC code) of every reference medicine without its strength, by name: the
    substances an allergy can be recorded against."""
    medicines = [*_reference()["catalogue"], *_reference()["substances"]]
    found = {re.split(r" \d", m["name"])[0]: m["atc"] for m in medicines}
    return sorted(found.items(), key=lambda item: item[0].casefold())
