"""FHIR for a chart's photos and scanned documents: a `DocumentReference` whose `Attachment`
names the bytes by URL, never carries them. Pure.

The bytes are not in the chart (content-addressed blobs beside it), and a 20 MB scan inlined as
base64 would make a clinic's export unusable, so the `url` is the path a clinicmesh node serves
them at, `/api/v1/attachments/<sha256>` (the SHA-256 lets a receiver check what it fetched);
title, content type, size and creation time come from the reference entry.
"""

from __future__ import annotations

from meshd.exports.chart_read import Chart, at_ms
from meshd.exports.fhir_care import Entry, Made, base, encounter_ref
from meshd.exports.fhir_codes import LOINC, concept, ref
from meshd.exports.fhir_patient import patient_url

ATTACHMENT_PATH = "/api/v1/attachments/"
PHOTO_TYPE = ("72170-4", "Photographic image")
DOCUMENT_TYPE_TEXT = "Scanned document"


def attachment_document(chart: Chart, entry_id: str, entry: Entry) -> Made:
    """A photo or document on the chart as a DocumentReference (voided: entered-in-error)."""
    url, res = base(chart, "DocumentReference", entry_id)
    res["status"] = "entered-in-error" if chart.state(entry_id) != "live" else "current"
    res["type"] = (concept(LOINC, *PHOTO_TYPE) if entry.get("purpose") == "photo"
                   else {"text": DOCUMENT_TYPE_TEXT})
    res["subject"] = ref(patient_url(chart.patient_id))
    res["date"] = chart.moment(at_ms(entry))
    attachment = {
        "contentType": str(entry.get("content_type") or "application/octet-stream"),
        "url": ATTACHMENT_PATH + str(entry.get("sha256", "")),
        "title": str(entry.get("name") or "attachment"),
        "creation": res["date"],
    }
    if isinstance(entry.get("size"), int):
        attachment["size"] = entry["size"]
    res["content"] = [{"attachment": attachment}]
    found = encounter_ref(chart, entry)
    if found:
        res["context"] = {"encounter": [found]}
    return url, res
