"""Clinical input rules: vitals ranges, triage categories, ICD-10 codes, prescriptions, labs.

Each `*_entry` function takes JSON-ish input and returns the clean fields of one chart entry,
or raises ValidationError naming the field. Unknown keys are rejected (see validate.py).
Units are fixed so values from different devices compare: temperature °C, blood pressure mmHg,
pulse and respiratory rate per minute, SpO2 %, weight kg, height cm, MUAC **mm**.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from math import ceil
from typing import Any

from crdt_model.consultation import consultation_entry, referral_entry
from crdt_model.errors import ValidationError
from crdt_model.ids import check_entry_id, check_slug
from crdt_model.validate import (
    atc_code,
    choice,
    each,
    integer,
    name,
    number,
    reject_unknown,
    require_mapping,
    text,
)

# Plausible (not normal) ranges: outside them the value is a typo or a wrong unit.
VITAL_RANGES: dict[str, tuple[float, float]] = {
    "temperature_c": (30.0, 45.0),
    "systolic_mmhg": (50, 260),
    "diastolic_mmhg": (20, 160),
    "pulse_bpm": (20, 250),
    "resp_rate_bpm": (4, 80),
    "spo2_pct": (50, 100),
    "weight_kg": (0.3, 300.0),
    "height_cm": (20, 250),
    "muac_mm": (50, 400),
}

# WHO ETAT triage: Emergency signs → emergency; Priority signs → priority; otherwise queue.
TRIAGE_CATEGORIES = ("emergency", "priority", "queue")
DANGER_SIGNS = (
    "obstructed_breathing", "severe_respiratory_distress", "central_cyanosis",
    "shock", "coma", "convulsions", "severe_dehydration",
    "tiny_baby", "temperature_very_high", "trauma", "pallor", "poisoning",
    "severe_pain", "restless_irritable_lethargic", "referral", "malnutrition",
    "oedema_both_feet", "burns", "unable_to_drink", "vomiting_everything",
)
ALLERGY_SEVERITIES = ("mild", "moderate", "severe", "unknown")
DIAGNOSIS_CERTAINTIES = ("provisional", "confirmed")
DOSE_UNITS = ("mg", "g", "mcg", "mL", "IU", "tablet", "capsule", "drop", "puff", "sachet", "unit")
ROUTES = (
    "oral", "iv", "im", "sc", "topical", "rectal", "inhaled", "nasal", "ophthalmic", "otic",
    "sublingual", "vaginal",
)
LAB_INTERPRETATIONS = ("normal", "abnormal", "critical", "positive", "negative")
MAX_DURATION_DAYS = 365
MAX_QUANTITY = 100_000
MAX_DOSE = 100_000.0
# Doses counted in whole units, whose quantity to give follows from dose, frequency and days.
COUNTED_UNITS = ("tablet", "capsule", "sachet")
# Times a day of the usual frequencies (0: a single dose); others are not checked.
TIMES_A_DAY = {"once": 0, "1x/day": 1, "od": 1, "2x/day": 2, "bd": 2, "3x/day": 3, "tds": 3,
               "every 8 h": 3, "4x/day": 4, "qds": 4}
OVER_SUPPLY = 3
_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?")


def icd10(value: object, field: str = "code") -> str:
    """An ICD-10 code such as `B54` or `A09.0`, upper-cased."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be an ICD-10 code such as A09.0", field=field)
    code = value.strip().upper()
    if not _ICD10.fullmatch(code):
        raise ValidationError(f"{field} {value!r} is not an ICD-10 code (e.g. A09.0)", field=field)
    return code


def vitals(value: object) -> dict[str, float | int]:
    """Measured vitals within their plausible ranges; at least one is required."""
    data = require_mapping(value, "vitals")
    reject_unknown(data, VITAL_RANGES, "vitals.")
    clean = each({
        key: partial(number, v, f"vitals.{key}", *VITAL_RANGES[key])
        for key, v in data.items()
        if v is not None
    })
    if not clean:
        raise ValidationError("at least one vital sign is required", field="vitals",
                              problem="missing")
    if clean.get("diastolic_mmhg", 0) >= clean.get("systolic_mmhg", float("inf")):
        raise ValidationError("diastolic must be below systolic", field="vitals.diastolic_mmhg")
    return clean


def _optional(data: Mapping[str, Any], clean: dict[str, Any], key: str, check: Any) -> None:
    if data.get(key) is not None:
        clean[key] = check(data[key], key)


def _encounter_link(data: Mapping[str, Any], clean: dict[str, Any], required: bool) -> None:
    if required or data.get("encounter_id") is not None:
        clean["encounter_id"] = check_entry_id(data.get("encounter_id"), "encounter_id")


def allergy_entry(data: object) -> dict[str, Any]:
    """{substance, atc? (of the substance or its class), reaction?, severity?, note?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("substance", "atc", "reaction", "severity", "note"))
    clean: dict[str, Any] = {"substance": name(raw.get("substance"), "substance")}
    _optional(raw, clean, "atc", atc_code)
    _optional(raw, clean, "reaction", name)
    _optional(raw, clean, "severity", lambda v, f: choice(v, f, ALLERGY_SEVERITIES))
    _optional(raw, clean, "note", text)
    return clean


def encounter_entry(data: object) -> dict[str, Any]:
    """{encounter_type?, chief_complaint?}: a visit that later entries attach to."""
    raw = require_mapping(data)
    reject_unknown(raw, ("encounter_type", "chief_complaint"))
    clean: dict[str, Any] = {"encounter_type": "outpatient"}
    _optional(raw, clean, "encounter_type", name)
    _optional(raw, clean, "chief_complaint", text)
    return clean


def triage_entry(data: object) -> dict[str, Any]:
    """{encounter_id, category, vitals, danger_signs?, note?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("encounter_id", "category", "vitals", "danger_signs", "note"))
    clean: dict[str, Any] = {}
    _encounter_link(raw, clean, required=True)
    checks: dict[str, Callable[[], Any]] = {
        "category": partial(choice, raw.get("category"), "category", TRIAGE_CATEGORIES),
        "vitals": partial(vitals, raw.get("vitals")),
        "danger_signs": partial(_danger_signs, raw.get("danger_signs", [])),
    }
    clean.update(each(checks))
    if clean["danger_signs"] and clean["category"] == "queue":
        raise ValidationError(
            "a patient with danger signs can't be triaged 'queue'", field="category"
        )
    _optional(raw, clean, "note", text)
    return clean


def _danger_signs(signs: object) -> list[str]:
    if not isinstance(signs, list | tuple):
        raise ValidationError("danger_signs must be a list", field="danger_signs")
    return sorted({choice(s, "danger_signs", DANGER_SIGNS) for s in signs})


def note_entry(data: object) -> dict[str, Any]:
    """{text, encounter_id?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("text", "encounter_id"))
    clean: dict[str, Any] = {"text": text(raw.get("text"), "text")}
    _encounter_link(raw, clean, required=False)
    return clean


def diagnosis_entry(data: object) -> dict[str, Any]:
    """{code (ICD-10), label, certainty?, encounter_id?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("code", "label", "certainty", "encounter_id"))
    clean: dict[str, Any] = {"code": icd10(raw.get("code"))}
    clean["label"] = name(raw.get("label"), "label")
    _optional(raw, clean, "certainty", lambda v, f: choice(v, f, DIAGNOSIS_CERTAINTIES))
    _encounter_link(raw, clean, required=False)
    return clean


def _check_quantity(clean: Mapping[str, Any]) -> None:
    """A quantity of a counted form (tablets, capsules…) covers dose × times a day × days,
    and is not more than OVER_SUPPLY times that (a typo such as 150 for 15)."""
    times = TIMES_A_DAY.get(str(clean["frequency"]).casefold())
    if "quantity" not in clean or clean["dose_unit"] not in COUNTED_UNITS or times is None:
        return
    days = 1 if times == 0 else clean["duration_days"]
    needed = ceil(clean["dose"] * max(times, 1) * days)
    if not needed <= clean["quantity"] <= OVER_SUPPLY * needed:
        raise ValidationError(
            f"{clean['dose']:g} {clean['dose_unit']} {clean['frequency']} for {days} days "
            f"needs {needed}: the quantity must be between {needed} and {OVER_SUPPLY * needed}",
            field="quantity", problem="out_of_range", limits=(needed, OVER_SUPPLY * needed))


def prescription_entry(data: object) -> dict[str, Any]:
    """{drug, drug_id?, dose, dose_unit, route, frequency, duration_days, quantity?,
    instructions?, override_reason?, encounter_id?}."""
    raw = require_mapping(data)
    reject_unknown(raw, (
        "drug", "drug_id", "dose", "dose_unit", "route", "frequency", "duration_days",
        "quantity", "instructions", "encounter_id", "override_reason",
    ))
    clean: dict[str, Any] = {"drug": name(raw.get("drug"), "drug")}
    _optional(raw, clean, "drug_id", check_slug)
    clean["dose"] = number(raw.get("dose"), "dose", 0.0001, MAX_DOSE)
    if raw.get("dose_unit") is None:
        raise ValidationError("a dose needs a unit (mg, mL, tablet…)", field="dose_unit")
    clean["dose_unit"] = choice(raw.get("dose_unit"), "dose_unit", DOSE_UNITS)
    clean["route"] = choice(raw.get("route"), "route", ROUTES)
    clean["frequency"] = name(raw.get("frequency"), "frequency")
    clean["duration_days"] = integer(
        raw.get("duration_days"), "duration_days", 1, MAX_DURATION_DAYS
    )
    _optional(raw, clean, "quantity", lambda v, f: integer(v, f, 1, MAX_QUANTITY))
    _check_quantity(clean)
    _optional(raw, clean, "instructions", text)
    _optional(raw, clean, "override_reason", text)  # why a clash with an allergy is accepted
    _encounter_link(raw, clean, required=False)
    return clean


def lab_order_entry(data: object) -> dict[str, Any]:
    """{test, code?, specimen?, encounter_id?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("test", "code", "specimen", "encounter_id"))
    clean: dict[str, Any] = {"test": name(raw.get("test"), "test")}
    _optional(raw, clean, "code", lambda v, f: text(v, f, max_chars=40))
    _optional(raw, clean, "specimen", name)
    _encounter_link(raw, clean, required=False)
    return clean


def lab_result_entry(data: object) -> dict[str, Any]:
    """{order_id, value (text or number), unit?, interpretation?, note?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("order_id", "value", "unit", "interpretation", "note"))
    clean: dict[str, Any] = {"order_id": check_entry_id(raw.get("order_id"), "order_id")}
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError("value must be text or a number", field="value")
    clean["value"] = text(value, "value") if isinstance(value, str) else number(
        value, "value", -1e12, 1e12
    )
    _optional(raw, clean, "unit", lambda v, f: text(v, f, max_chars=20))
    _optional(raw, clean, "interpretation", lambda v, f: choice(v, f, LAB_INTERPRETATIONS))
    _optional(raw, clean, "note", text)
    return clean


def dispense_input(data: object) -> dict[str, Any]:
    """{prescription_id, drug_id, quantity > 0, note?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("prescription_id", "drug_id", "quantity", "note"))
    clean: dict[str, Any] = {
        "prescription_id": check_entry_id(raw.get("prescription_id"), "prescription_id"),
        "drug_id": check_slug(raw.get("drug_id"), "drug_id"),
        "quantity": integer(raw.get("quantity"), "quantity", 1, MAX_QUANTITY),
    }
    _optional(raw, clean, "note", text)
    return clean


# Entry kinds a user writes directly, and the rules that clean them (used by correct_entry).
ENTRY_RULES = {
    "allergy": allergy_entry,
    "encounter": encounter_entry,
    "triage": triage_entry,
    "note": note_entry,
    "diagnosis": diagnosis_entry,
    "prescription": prescription_entry,
    "lab_order": lab_order_entry,
    "lab_result": lab_result_entry,
    "consultation": consultation_entry,
    "referral": referral_entry,
}
