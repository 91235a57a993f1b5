"""The consultation: presenting complaint, history, examination and plan as free text in
structured sections, a follow-up day, and referrals to another facility.

A `consultation` entry belongs to a visit (its encounter) and is corrected like any entry (a
new one that supersedes it); its `follow_up` day puts the patient on that day's list of
expected follow-ups (`follow_ups`, a worklist). A `referral` entry names where the patient is
sent and why; the letter is printed from the chart. Pure: time, author and ids are arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.chart_doc import chart_root, entries_of, order_key, status_of
from crdt_model.errors import InvalidFields, ValidationError
from crdt_model.ids import check_day, check_entry_id
from crdt_model.validate import name, reject_unknown, require_mapping, text

CONSULTATION = "consultation"
REFERRAL = "referral"
SECTIONS = ("presenting_complaint", "history", "examination", "plan")
MAX_FOLLOW_UP_DAYS = 366


def consultation_entry(data: object) -> dict[str, Any]:
    """{presenting_complaint?, history?, examination?, plan?, follow_up?, encounter_id?}: at
    least one section written; `follow_up` an ISO day. Every wrong field at once."""
    raw = require_mapping(data)
    reject_unknown(raw, (*SECTIONS, "follow_up", "encounter_id"))
    clean: dict[str, Any] = {}
    errors: list[ValidationError] = []
    for section in SECTIONS:
        if raw.get(section) not in (None, ""):
            try:
                clean[section] = text(raw[section], section)
            except ValidationError as exc:
                errors.append(exc)
    if not any(s in clean for s in SECTIONS) and not errors:
        errors.append(ValidationError("write at least one section of the consultation",
                                      field="presenting_complaint", problem="missing"))
    for key, check in (("follow_up", check_day), ("encounter_id", check_entry_id)):
        if raw.get(key) not in (None, ""):
            try:
                clean[key] = check(raw[key], key)
            except ValidationError as exc:
                errors.append(exc)
    if errors:
        raise InvalidFields(errors)
    return clean


def check_follow_up(follow_up: str, today: str) -> None:
    """ValidationError unless the follow-up day is after `today` and within a year."""
    days = (date.fromisoformat(follow_up) - date.fromisoformat(today)).days
    if not 0 < days <= MAX_FOLLOW_UP_DAYS:
        raise ValidationError("the follow-up day must be after today and within a year",
                              field="follow_up", problem="out_of_range")


def referral_entry(data: object) -> dict[str, Any]:
    """{to (the facility or service), reason, encounter_id?}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("to", "reason", "encounter_id"))
    clean: dict[str, Any] = {}
    errors: list[ValidationError] = []
    for key, check in (("to", name), ("reason", text)):
        try:
            clean[key] = check(raw.get(key), key)
        except ValidationError as exc:
            errors.append(exc)
    if raw.get("encounter_id") is not None:
        try:
            clean["encounter_id"] = check_entry_id(raw["encounter_id"], "encounter_id")
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise InvalidFields(errors)
    return clean


def follow_ups(doc: Doc) -> list[dict[str, Any]]:
    """The live consultations that set a follow-up day: {consultation_id, day, plan?}."""
    return follow_ups_of(chart_root(doc))


def follow_ups_of(root: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`follow_ups` of a chart read as plain values."""
    entries = entries_of(root)
    status = status_of(entries)
    found = []
    for entry_id, entry in sorted(entries.items(), key=lambda item: order_key(*item)):
        day = entry.get("follow_up")
        if entry.get("kind") == CONSULTATION and isinstance(day, str) and status.live(entry_id):
            found.append({"consultation_id": entry_id, "day": day,
                          "plan": entry.get("plan") if isinstance(entry.get("plan"), str)
                          else None})
    return found
