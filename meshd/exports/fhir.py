"""A chart as entries of a FHIR R4 transaction Bundle, and the Bundle's text around them. Pure.

Every resource's fullUrl is a urn:uuid derived from its chart and entry, and it is sent as a
conditional update on that identifier, so importing the same export twice updates, not copies
(a later void turns a resource `entered-in-error` on the server too). References point at
fullUrls in the same Bundle; a link to another chart names that patient by identifier.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from crdt_model.attachments import ATTACHMENT
from crdt_model.chart_doc import DISPENSATION
from meshd.exports.chart_read import Chart
from meshd.exports.fhir_care import Entry, Made, allergy, condition, encounter, note, vital_signs
from meshd.exports.fhir_codes import URI_IDS
from meshd.exports.fhir_documents import attachment_document
from meshd.exports.fhir_orders import (
    lab_result,
    medication_dispense,
    medication_request,
    service_request,
)
from meshd.exports.fhir_patient import patient

BUNDLE_HEAD = '{"resourceType":"Bundle","type":"transaction","entry":[\n'
BUNDLE_TAIL = "\n]}\n"
ENTRY_SEPARATOR = ",\n"

# Entry kind -> the resources it becomes. Voids, cancellations, review resolutions and merge
# links are not resources of their own: they set the status or links of the entry they name.
_MAKERS: dict[str, Callable[[Chart, str, Entry], list[Made]]] = {
    "encounter": lambda c, k, e: [encounter(c, k, e)],
    "allergy": lambda c, k, e: [allergy(c, k, e)],
    "triage": vital_signs,
    "note": lambda c, k, e: [note(c, k, e)],
    "diagnosis": lambda c, k, e: [condition(c, k, e)],
    "prescription": lambda c, k, e: [medication_request(c, k, e)],
    DISPENSATION: lambda c, k, e: [medication_dispense(c, k, e)],
    "lab_order": lambda c, k, e: [service_request(c, k, e)],
    "lab_result": lab_result,
    ATTACHMENT: lambda c, k, e: [attachment_document(c, k, e)],
}
EXPORTED_KINDS = frozenset(_MAKERS)


def chart_resources(chart: Chart) -> Iterator[Made]:
    """(fullUrl, resource) of the patient, then of every clinical entry, oldest first."""
    yield patient(chart)
    for entry_id in chart.ordered:
        entry = chart.entries[entry_id]
        make = _MAKERS.get(str(entry.get("kind")))
        if make is not None:
            yield from make(chart, entry_id, entry)


def bundle_entry(url: str, resource: dict[str, Any]) -> dict[str, Any]:
    """A transaction entry: create the resource, or update the one with its identifier."""
    kind = resource["resourceType"]
    return {
        "fullUrl": url,
        "resource": resource,
        "request": {"method": "PUT", "url": f"{kind}?identifier={URI_IDS}|{url}"},
    }


def chart_entries_json(chart: Chart) -> str:
    """The chart's Bundle entries as JSON text, joined by ENTRY_SEPARATOR (streamable)."""
    return ENTRY_SEPARATOR.join(
        json.dumps(bundle_entry(url, res), ensure_ascii=False, separators=(",", ":"))
        for url, res in chart_resources(chart)
    )
