"""Code systems, LOINC codes and UCUM units of the FHIR export, and the small builders every
resource uses (identifiers, references, codings). Pure."""

from __future__ import annotations

import functools
import uuid
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
URI_IDS = "urn:ietf:rfc:3986"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# No HL7 extension says "this birth date was estimated from a stated age"; ours is a URN so it
# claims no web domain. docs/exports.md documents it.
BIRTH_DATE_ESTIMATED = "urn:clinicmesh:fhir:birth-date-estimated"
SUPERSEDES = "urn:clinicmesh:fhir:supersedes"

# Stable resource ids: the same entry exported twice gets the same urn:uuid.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clinicmesh:fhir")

# vitals key of crdt_model.rules -> (LOINC code, LOINC display, UCUM unit).
VITALS: dict[str, tuple[str, str, str]] = {
    "temperature_c": ("8310-5", "Body temperature", "Cel"),
    "pulse_bpm": ("8867-4", "Heart rate", "/min"),
    "resp_rate_bpm": ("9279-1", "Respiratory rate", "/min"),
    "spo2_pct": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    "weight_kg": ("29463-7", "Body weight", "kg"),
    "height_cm": ("8302-2", "Body height", "cm"),
    "muac_mm": ("56072-2", "Circumference Mid upper arm", "mm"),
}
# Blood pressure is one Observation with two components, as the FHIR vital signs profile asks.
BLOOD_PRESSURE = ("85354-9", "Blood pressure panel with all children optional")
BP_PARTS: dict[str, tuple[str, str]] = {
    "systolic_mmhg": ("8480-6", "Systolic blood pressure"),
    "diastolic_mmhg": ("8462-4", "Diastolic blood pressure"),
}
MM_HG = "mm[Hg]"
NOTE_TYPE = ("11506-3", "Progress note")

# crdt_model.rules.DOSE_UNITS -> UCUM code (curly braces: a UCUM annotation for a count).
DOSE_UCUM = {
    "mg": "mg", "g": "g", "mcg": "ug", "mL": "mL", "IU": "[iU]", "tablet": "{tablet}",
    "capsule": "{capsule}", "drop": "[drp]", "puff": "{puff}", "sachet": "{sachet}",
    "unit": "{unit}",
}
LAB_INTERPRETATION = {
    "normal": ("N", "Normal"), "abnormal": ("A", "Abnormal"),
    "critical": ("AA", "Critical abnormal"), "positive": ("POS", "Positive"),
    "negative": ("NEG", "Negative"),
}


@functools.lru_cache(maxsize=4096)  # an entry's url is asked for by every resource naming it
def resource_uuid(doc_id: str, *parts: str) -> str:
    """The urn:uuid of the resource made from `parts` of document `doc_id` (deterministic)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '/'.join((doc_id, *parts)))}"


def identifier(url: str) -> dict[str, str]:
    """The business identifier of a resource: its own urn:uuid (re-imports update, not copy)."""
    return {"system": URI_IDS, "value": url}


def ref(url: str) -> dict[str, str]:
    """A reference to a resource of the same bundle."""
    return {"reference": url}


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    """One Coding."""
    found = {"system": system, "code": code}
    return {**found, "display": display} if display else found


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A CodeableConcept of one coding (and its display as text)."""
    found: dict[str, Any] = {"coding": [coding(system, code, display)]}
    return {**found, "text": display} if display else found


def quantity(value: float | int, unit: str, code: str | None = None) -> dict[str, Any]:
    """A Quantity; with a UCUM `code` when the unit has one."""
    found: dict[str, Any] = {"value": value, "unit": unit}
    return {**found, "system": UCUM, "code": code} if code else found


def supersedes(url: str) -> dict[str, Any]:
    """The extension that links a correction to the resource it replaces."""
    return {"url": SUPERSEDES, "valueReference": ref(url)}
