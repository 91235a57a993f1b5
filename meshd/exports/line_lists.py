"""CSV line lists for the analyst with a spreadsheet: one row per visit, diagnosis, dispense and
lab result of a period. Pure: rows of text from a chart.

Only live entries are listed (a voided or superseded one is not a fact any more; the FHIR export
keeps them, marked). Rows name the patient by chart id, sex, age and village, never by name or
phone: a line list travels further than a chart should.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from crdt_model.chart_doc import DISPENSATION
from crdt_model.worklists import age_on, visits_of
from meshd.exports.chart_read import Chart, at_ms, referral_days

Row = tuple[str, ...]
COLUMNS: dict[str, Row] = {
    "visits": ("patient_id", "day", "encounter_id", "visit", "sex", "age_years", "village",
               "triage_category", "referred", "stations", "diagnosis_codes", "open"),
    "diagnoses": ("patient_id", "day", "entry_id", "encounter_id", "code", "label", "certainty",
                  "corrects", "sex", "age_years", "village"),
    "dispenses": ("patient_id", "day", "entry_id", "prescription_id", "drug_id", "drug",
                  "quantity", "dose", "dose_unit", "route", "frequency", "duration_days", "sex",
                  "age_years", "village"),
    "lab_results": ("patient_id", "day", "entry_id", "order_id", "test", "code", "value", "unit",
                    "interpretation", "corrects", "sex", "age_years", "village"),
}
_ENTRY_LISTS = {"diagnoses": "diagnosis", "dispenses": DISPENSATION, "lab_results": "lab_result"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ";".join(_cell(v) for v in value)
    return str(value)


def _visit_rows(chart: Chart, first: str, last: str) -> Iterator[Row]:
    referred = referral_days(chart)
    for number, visit in enumerate(visits_of(chart.root, chart.day)):
        if first <= visit["day"] <= last:
            yield tuple(_cell(v) for v in (
                chart.patient_id, visit["day"], visit["encounter_id"],
                "new" if number == 0 else "follow-up", visit["sex"], visit["age_years"],
                chart.demographics.get("village"), visit["triage_category"],
                visit["day"] in referred, visit["stations"], visit["diagnosis_codes"],
                visit["open"],
            ))


def _fields(chart: Chart, name: str, entry: Mapping[str, Any]) -> list[Any]:
    if name == "diagnoses":
        return [entry.get(k) for k in ("encounter_id", "code", "label", "certainty",
                                       "supersedes")]
    if name == "dispenses":
        prescription = chart.entries.get(str(entry.get("prescription_id")), {})
        return [entry.get("prescription_id"), entry.get("drug_id"), prescription.get("drug"),
                entry.get("quantity"), *(prescription.get(k) for k in (
                    "dose", "dose_unit", "route", "frequency", "duration_days"))]
    order = chart.entries.get(str(entry.get("order_id")), {})
    return [entry.get("order_id"), order.get("test"), order.get("code"),
            *(entry.get(k) for k in ("value", "unit", "interpretation", "supersedes"))]


def chart_rows(chart: Chart, name: str, first: str, last: str) -> Iterator[Row]:
    """The rows of list `name` (a key of COLUMNS) that this chart adds for days first..last."""
    if name == "visits":
        yield from _visit_rows(chart, first, last)
        return
    sex = chart.demographics.get("sex")
    for entry_id, entry in chart.of_kind(_ENTRY_LISTS[name]):
        day = chart.day(at_ms(entry))
        if chart.state(entry_id) != "live" or not first <= day <= last:
            continue
        age = age_on(chart.demographics.get("birth_date"), day)
        yield tuple(_cell(v) for v in (
            chart.patient_id, day, entry_id, *_fields(chart, name, entry), sex, age,
            chart.demographics.get("village"),
        ))
