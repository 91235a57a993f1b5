"""FHIR resources of the care given in a visit: Encounter, vital-sign Observations, Condition,
AllergyIntolerance and notes (DocumentReference). Pure.

A voided entry, and one a correction superseded, is `entered-in-error`; the correction carries
the clinicmesh `supersedes` extension (or the resource's own element where FHIR has one).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from meshd.exports.chart_read import Chart, at_ms
from meshd.exports.fhir_codes import (
    ACT_CODE,
    ALLERGY_CLINICAL,
    ALLERGY_VERIFICATION,
    BLOOD_PRESSURE,
    BP_PARTS,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    ICD10,
    LOINC,
    MM_HG,
    NOTE_TYPE,
    OBSERVATION_CATEGORY,
    VITALS,
    coding,
    concept,
    identifier,
    quantity,
    ref,
    resource_uuid,
    supersedes,
)
from meshd.exports.fhir_patient import patient_url

Entry = Mapping[str, Any]
Made = tuple[str, dict[str, Any]]


def in_error(chart: Chart, entry_id: str) -> bool:
    """Whether the entry was voided or superseded: not to be used as current."""
    return chart.state(entry_id) != "live"


def base(chart: Chart, kind: str, entry_id: str, *part: str) -> tuple[str, dict[str, Any]]:
    """(fullUrl, resource skeleton with its identifier) of one entry (or part of one)."""
    url = resource_uuid(chart.doc_id, entry_id, *part)
    return url, {"resourceType": kind, "identifier": [identifier(url)]}


def encounter_ref(chart: Chart, entry: Entry) -> dict[str, str] | None:
    """A reference to the entry's encounter, when it links to one in this chart."""
    found = chart.linked(entry, "encounter_id", "encounter")
    return ref(resource_uuid(chart.doc_id, found)) if found else None


def link_context(
    chart: Chart, resource: dict[str, Any], entry: Entry, *, subject: str = "subject",
    encounter: str | None = "encounter",
) -> None:
    """Point `resource` at the patient (under `subject`) and at the entry's encounter."""
    resource[subject] = ref(patient_url(chart.patient_id))
    found = encounter_ref(chart, entry)
    if found and encounter:
        resource[encounter] = found


def correction_of(chart: Chart, entry: Entry, *part: str) -> str | None:
    """The url of the resource this correction replaces, when it is one and that resource was
    exported (a corrected triage may measure a vital the first one did not)."""
    target = entry.get("supersedes")
    if not isinstance(target, str) or target not in chart.entries:
        return None
    if part and chart.entries[target].get("kind") == "triage":
        vitals = chart.entries[target].get("vitals")
        keys = BP_PARTS if part[0] == "blood_pressure" else part
        if not isinstance(vitals, dict) or not any(k in vitals for k in keys):
            return None
    return resource_uuid(chart.doc_id, target, *part)


def encounter(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """An outpatient visit."""
    url, res = base(chart, "Encounter", entry_id)
    closed = entry.get("closed")
    res["status"] = "entered-in-error" if in_error(chart, entry_id) else (
        "finished" if isinstance(closed, dict) else "in-progress")
    res["class"] = coding(ACT_CODE, "AMB", "ambulatory")
    if isinstance(entry.get("encounter_type"), str):
        res["type"] = [{"text": entry["encounter_type"]}]
    res["subject"] = ref(patient_url(chart.patient_id))
    period = {"start": chart.moment(at_ms(entry))}
    if isinstance(closed, dict):
        period["end"] = chart.moment(at_ms(closed))
    res["period"] = period
    if isinstance(entry.get("chief_complaint"), str):
        res["reasonCode"] = [{"text": entry["chief_complaint"]}]
    return url, res


def _observation(
    chart: Chart, entry_id: str, entry: Entry, part: str, code: tuple[str, str]
) -> Made:
    url, res = base(chart, "Observation", entry_id, part)
    corrected = correction_of(chart, entry, part)
    res["status"] = "entered-in-error" if in_error(chart, entry_id) else (
        "corrected" if corrected else "final")
    res["category"] = [concept(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")]
    res["code"] = concept(LOINC, *code)
    link_context(chart, res, entry)
    res["effectiveDateTime"] = chart.moment(at_ms(entry))
    if corrected:
        res["extension"] = [supersedes(corrected)]
    return url, res


def vital_signs(chart: Chart, entry_id: str, entry: Entry) -> list[Made]:
    """One Observation per vital sign of a triage entry (blood pressure: one with components)."""
    vitals = entry.get("vitals")
    measured = vitals if isinstance(vitals, dict) else {}
    made = []
    for key, (code, display, unit) in VITALS.items():
        value = measured.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            url, res = _observation(chart, entry_id, entry, key, (code, display))
            res["valueQuantity"] = quantity(value, unit, unit)
            made.append((url, res))
    parts = [
        {"code": concept(LOINC, code, display),
         "valueQuantity": quantity(measured[key], MM_HG, MM_HG)}
        for key, (code, display) in BP_PARTS.items()
        if isinstance(measured.get(key), int | float)
    ]
    if parts:
        url, res = _observation(chart, entry_id, entry, "blood_pressure", BLOOD_PRESSURE)
        res["component"] = parts
        made.append((url, res))
    return made


def condition(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """A diagnosis coded in ICD-10."""
    url, res = base(chart, "Condition", entry_id)
    certainty = entry.get("certainty")
    if in_error(chart, entry_id):
        res["verificationStatus"] = concept(CONDITION_VERIFICATION, "entered-in-error")
    else:
        res["clinicalStatus"] = concept(CONDITION_CLINICAL, "active")
        if certainty in ("provisional", "confirmed"):
            res["verificationStatus"] = concept(CONDITION_VERIFICATION, str(certainty))
    res["category"] = [concept(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")]
    label = entry.get("label") if isinstance(entry.get("label"), str) else None
    res["code"] = {"coding": [coding(ICD10, str(entry.get("code")), label)],
                   **({"text": label} if label else {})}
    link_context(chart, res, entry)
    res["recordedDate"] = chart.moment(at_ms(entry))
    corrected = correction_of(chart, entry)
    if corrected:
        res["extension"] = [supersedes(corrected)]
    return url, res


def allergy(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """An allergy to a substance, with its reaction and severity when recorded."""
    url, res = base(chart, "AllergyIntolerance", entry_id)
    if in_error(chart, entry_id):
        res["verificationStatus"] = concept(ALLERGY_VERIFICATION, "entered-in-error")
    else:
        res["clinicalStatus"] = concept(ALLERGY_CLINICAL, "active")
    res["code"] = {"text": str(entry.get("substance"))}
    link_context(chart, res, entry, subject="patient", encounter=None)
    res["recordedDate"] = chart.moment(at_ms(entry))
    severity = entry.get("severity")
    notes = [str(entry["note"])] if isinstance(entry.get("note"), str) else []
    if isinstance(entry.get("reaction"), str):
        reaction: dict[str, Any] = {"manifestation": [{"text": entry["reaction"]}]}
        if severity in ("mild", "moderate", "severe"):
            reaction["severity"] = severity
        res["reaction"] = [reaction]
    elif severity in ("mild", "moderate", "severe"):
        # FHIR's reaction needs a manifestation; with none recorded the severity stays a note.
        notes.append(f"severity: {severity}")
    if notes:
        res["note"] = [{"text": n} for n in notes]
    corrected = correction_of(chart, entry)
    if corrected:
        res["extension"] = [supersedes(corrected)]
    return url, res


def note(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """A clinical note as a plain-text progress note."""
    url, res = base(chart, "DocumentReference", entry_id)
    state = chart.state(entry_id)
    res["status"] = {"voided": "entered-in-error", "superseded": "superseded"}.get(
        state, "current")
    res["type"] = concept(LOINC, *NOTE_TYPE)
    res["subject"] = ref(patient_url(chart.patient_id))
    res["date"] = chart.moment(at_ms(entry))
    data = base64.b64encode(str(entry.get("text", "")).encode()).decode()
    res["content"] = [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": data}}]
    found = encounter_ref(chart, entry)
    if found:
        res["context"] = {"encounter": [found]}
    corrected = correction_of(chart, entry)
    if corrected:
        res["relatesTo"] = [{"code": "replaces", "target": ref(corrected)}]
    return url, res
