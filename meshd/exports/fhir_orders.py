"""FHIR resources of orders and what answered them: MedicationRequest, MedicationDispense,
ServiceRequest, and a lab result's DiagnosticReport with its Observation. Pure."""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from meshd.exports.chart_read import Chart, at_ms
from meshd.exports.fhir_care import (
    Entry,
    Made,
    base,
    correction_of,
    in_error,
    link_context,
)
from meshd.exports.fhir_codes import (
    DOSE_UCUM,
    INTERPRETATION,
    LAB_INTERPRETATION,
    LOINC,
    OBSERVATION_CATEGORY,
    UCUM,
    concept,
    quantity,
    ref,
    resource_uuid,
    supersedes,
)

_LOINC_CODE = re.compile(r"\d{1,7}-\d")


def _number(value: object) -> TypeGuard[float | int]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _medication(entry: Entry) -> dict[str, Any]:
    return {"text": str(entry.get("drug") or entry.get("drug_id") or "unknown")}


def _prescription_status(chart: Chart, entry_id: str, entry: Entry) -> str:
    # The same rule as the pharmacy worklist: without a quantity any dispensation completes it.
    if in_error(chart, entry_id):
        return "entered-in-error"
    if entry_id in chart.status.cancelled_by:
        return "cancelled"
    given = [chart.entries[d].get("quantity") for d in chart.status.dispensed_by.get(entry_id, [])]
    wanted = entry.get("quantity")
    if given and (not isinstance(wanted, int) or sum(q for q in given if _number(q)) >= wanted):
        return "completed"
    return "active"


def _dosage(entry: Entry) -> dict[str, Any]:
    dose, unit = entry.get("dose"), str(entry.get("dose_unit"))
    words = [f"{dose:g} {unit}" if _number(dose) else None, entry.get("route"),
             entry.get("frequency"),
             f"for {entry['duration_days']} days" if entry.get("duration_days") else None]
    dosage: dict[str, Any] = {"text": " ".join(str(w) for w in words if w)}
    if isinstance(entry.get("instructions"), str):
        dosage["patientInstruction"] = entry["instructions"]
    if isinstance(entry.get("frequency"), str):
        dosage["timing"] = {"code": {"text": entry["frequency"]}}
    if isinstance(entry.get("route"), str):
        dosage["route"] = {"text": entry["route"]}
    if _number(dose):
        dosage["doseAndRate"] = [{"doseQuantity": quantity(dose, unit, DOSE_UCUM.get(unit))}]
    return dosage


def medication_request(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """A prescription; cancelled with its reason, completed once dispensed."""
    url, res = base(chart, "MedicationRequest", entry_id)
    res["status"] = _prescription_status(chart, entry_id, entry)
    cancels = chart.status.cancelled_by.get(entry_id, [])
    if res["status"] == "cancelled" and isinstance(chart.entries[cancels[0]].get("reason"), str):
        res["statusReason"] = {"text": chart.entries[cancels[0]]["reason"]}
    res["intent"] = "order"
    res["medicationCodeableConcept"] = _medication(entry)
    link_context(chart, res, entry)
    res["authoredOn"] = chart.moment(at_ms(entry))
    res["dosageInstruction"] = [_dosage(entry)]
    supply: dict[str, Any] = {}
    if isinstance(entry.get("quantity"), int):
        supply["quantity"] = {"value": entry["quantity"]}
    if isinstance(entry.get("duration_days"), int):
        supply["expectedSupplyDuration"] = {
            "value": entry["duration_days"], "unit": "days", "system": UCUM, "code": "d"}
    if supply:
        res["dispenseRequest"] = supply
    corrected = correction_of(chart, entry)
    if corrected:
        res["priorPrescription"] = ref(corrected)
    return url, res


def medication_dispense(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """A dispensation against its prescription."""
    url, res = base(chart, "MedicationDispense", entry_id)
    res["status"] = "entered-in-error" if in_error(chart, entry_id) else "completed"
    prescription_id = chart.linked(entry, "prescription_id", "prescription")
    prescription = chart.entries[prescription_id] if prescription_id else {}
    res["medicationCodeableConcept"] = _medication({**entry, **prescription})
    link_context(chart, res, prescription, encounter="context")
    if prescription_id:
        res["authorizingPrescription"] = [ref(resource_uuid(chart.doc_id, prescription_id))]
    if _number(entry.get("quantity")):
        res["quantity"] = {"value": entry["quantity"]}
    res["whenHandedOver"] = chart.moment(at_ms(entry))
    if isinstance(entry.get("note"), str):
        res["note"] = [{"text": entry["note"]}]
    return url, res


def _test_code(order: Entry) -> dict[str, Any]:
    test = str(order.get("test") or "laboratory test")
    code = order.get("code")
    if isinstance(code, str) and _LOINC_CODE.fullmatch(code):
        return concept(LOINC, code, test)
    return {"text": f"{test} ({code})" if isinstance(code, str) else test}


def _answered(chart: Chart, order_id: str) -> bool:
    return any(
        e.get("order_id") == order_id and chart.state(k) == "live"
        for k, e in chart.of_kind("lab_result")
    )


def service_request(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """A lab order; completed once a live result answers it."""
    url, res = base(chart, "ServiceRequest", entry_id)
    res["status"] = "entered-in-error" if in_error(chart, entry_id) else (
        "completed" if _answered(chart, entry_id) else "active")
    res["intent"] = "order"
    res["category"] = [concept("http://snomed.info/sct", "108252007", "Laboratory procedure")]
    res["code"] = _test_code(entry)
    link_context(chart, res, entry)
    res["authoredOn"] = chart.moment(at_ms(entry))
    if isinstance(entry.get("specimen"), str):
        res["note"] = [{"text": f"specimen: {entry['specimen']}"}]
    corrected = correction_of(chart, entry)
    if corrected:
        res["replaces"] = [ref(corrected)]
    return url, res


def lab_result(chart: Chart, entry_id: str, entry: Entry) -> list[Made]:
    """A result: its Observation and the DiagnosticReport that reports it."""
    order_id = chart.linked(entry, "order_id", "lab_order")
    order = chart.entries[order_id] if order_id else {}
    corrected = correction_of(chart, entry, "observation")
    status = "entered-in-error" if in_error(chart, entry_id) else (
        "corrected" if corrected else "final")
    obs_url, obs = base(chart, "Observation", entry_id, "observation")
    obs["status"] = status
    obs["category"] = [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")]
    obs["code"] = _test_code(order)
    link_context(chart, obs, order)
    obs["effectiveDateTime"] = chart.moment(at_ms(entry))
    value = entry.get("value")
    if _number(value):
        obs["valueQuantity"] = (
            quantity(value, entry["unit"]) if isinstance(entry.get("unit"), str)
            else {"value": value})
    else:
        obs["valueString"] = str(value)
    if entry.get("interpretation") in LAB_INTERPRETATION:
        code, display = LAB_INTERPRETATION[str(entry["interpretation"])]
        obs["interpretation"] = [concept(INTERPRETATION, code, display)]
    if isinstance(entry.get("note"), str):
        obs["note"] = [{"text": entry["note"]}]
    report_url, report = base(chart, "DiagnosticReport", entry_id)
    report["status"] = status
    report["code"] = obs["code"]
    link_context(chart, report, order)
    report["effectiveDateTime"] = obs["effectiveDateTime"]
    report["issued"] = obs["effectiveDateTime"]
    report["result"] = [ref(obs_url)]
    if order_id:
        based_on = [ref(resource_uuid(chart.doc_id, order_id))]
        obs["basedOn"] = report["basedOn"] = based_on
    if corrected:
        obs["extension"] = [supersedes(corrected)]
        report["extension"] = [supersedes(resource_uuid(chart.doc_id, str(entry["supersedes"])))]
    return [(obs_url, obs), (report_url, report)]
