"""FHIR: the bundle validates against the R4 models and says what the chart says."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from typing import Any

from export_clinic import DEVICE, USER, at, known_chart, new_facility, pid, root, utc, who
from fhir.resources.R4B.bundle import Bundle

from crdt_model import chart, sample
from crdt_model.attachments import add_attachment
from crdt_model.context import Author
from meshd.exports import fhir
from meshd.exports.chart_read import Chart, read_chart
from meshd.exports.fhir_codes import ICD10, LOINC, URI_IDS, resource_uuid


def _chart(data: dict[str, Any]) -> Chart:
    found = read_chart(data, utc)
    assert found is not None
    return found


def _bundle(*charts: Chart) -> dict[str, Any]:
    text = fhir.BUNDLE_HEAD + fhir.ENTRY_SEPARATOR.join(
        fhir.chart_entries_json(c) for c in charts) + fhir.BUNDLE_TAIL
    return json.loads(text)


def _resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def test_a_generated_clinic_validates_against_the_r4_models() -> None:
    rng = random.Random(12)
    charts = []
    for i in range(25):
        author = Author(DEVICE, USER, at("2026-11-02") + i * 3_600_000)
        patient = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        charts.append(_chart(root(sample.build_sample_chart(patient, author, rng))))
    charts.append(_chart(root(known_chart(new_facility()).doc)))
    bundle = _bundle(*charts)
    Bundle.model_validate(bundle)  # raises on anything R4(B) does not allow
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    for entry in bundle["entry"]:
        assert entry["request"]["method"] == "PUT"
        assert entry["request"]["url"].endswith(f"identifier={URI_IDS}|{entry['fullUrl']}")
        for reference in _references(entry["resource"]):
            assert reference in set(urls), reference  # every reference resolves in the bundle


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


def test_every_entry_of_the_known_chart_appears_once_with_its_codes_and_links() -> None:
    known = known_chart(new_facility())
    c = _chart(root(known.doc))
    resources = _resources(_bundle(c))
    ids = known.ids

    def made(entry: str, *part: str) -> dict[str, Any]:
        return resources[resource_uuid(c.doc_id, entry, *part)]

    kinds = Counter(r["resourceType"] for r in resources.values())
    assert kinds == {
        "Patient": 1, "AllergyIntolerance": 1, "Encounter": 1, "Observation": 7,
        "DocumentReference": 1, "Condition": 3, "MedicationRequest": 2, "MedicationDispense": 1,
        "ServiceRequest": 1, "DiagnosticReport": 1,
    }  # 6 vital signs (blood pressure as one) + 1 lab Observation; voids and cancels are none
    patient_url = f"urn:uuid:{c.patient_id}"
    patient = resources[patient_url]
    assert patient["name"] == [{"use": "official", "family": "Bello", "given": ["Amina"]}]
    assert patient["gender"] == "female" and patient["address"][0]["city"] == "Kisumu"
    assert patient["_birthDate"]["extension"][0]["valueBoolean"] is True  # an estimated age
    assert {"value": "NID-42"}.items() <= patient["identifier"][1].items()

    encounter_url = resource_uuid(c.doc_id, ids["encounter"])
    assert resources[encounter_url]["status"] == "finished"
    vitals = {
        coding["code"]: res for url, res in resources.items()
        if res["resourceType"] == "Observation" and res["category"][0]["coding"][0]["code"]
        == "vital-signs" for coding in res["code"]["coding"]
    }
    assert vitals["8310-5"]["valueQuantity"] == {
        "value": 38.9, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"}
    assert vitals["8867-4"]["valueQuantity"]["code"] == "/min"
    assert vitals["9279-1"]["valueQuantity"]["value"] == 24
    assert vitals["59408-5"]["valueQuantity"]["code"] == "%"
    assert vitals["29463-7"]["valueQuantity"]["code"] == "kg"
    pressure = {p["code"]["coding"][0]["code"]: p["valueQuantity"]["value"]
                for p in vitals["85354-9"]["component"]}
    assert pressure == {"8480-6": 120, "8462-4": 80}
    assert all(v["encounter"] == {"reference": encounter_url} for v in vitals.values())
    assert all(v["code"]["coding"][0]["system"] == LOINC for v in vitals.values())

    first, correction = made(ids["diagnosis"]), made(ids["correction"])
    assert first["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert correction["code"]["coding"][0] == {
        "system": ICD10, "code": "B50.9", "display": "Plasmodium falciparum malaria, unspecified"}
    assert correction["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert correction["extension"][0]["valueReference"]["reference"] == resource_uuid(
        c.doc_id, ids["diagnosis"])
    voided = made(ids["voided_dx"])
    assert voided["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in voided

    prescription = made(ids["prescription"])
    assert prescription["status"] == "completed"
    assert prescription["encounter"] == {"reference": encounter_url}
    assert made(ids["cancelled_rx"])["status"] == "cancelled"
    assert made(ids["cancelled_rx"])["statusReason"] == {"text": "not needed"}
    dispense = made(ids["dispense"])
    assert dispense["authorizingPrescription"] == [
        {"reference": resource_uuid(c.doc_id, ids["prescription"])}]
    assert dispense["quantity"] == {"value": 24}
    order = made(ids["lab_order"])
    assert order["status"] == "completed"
    report, observation = made(ids["lab_result"]), made(ids["lab_result"], "observation")
    assert report["basedOn"] == observation["basedOn"] == [
        {"reference": resource_uuid(c.doc_id, ids["lab_order"])}]
    assert report["result"] == [{"reference": resource_uuid(c.doc_id, ids["lab_result"],
                                                            "observation")}]
    assert observation["valueString"] == "positive"
    assert observation["interpretation"][0]["coding"][0]["code"] == "POS"
    allergy = made(ids["allergy"])
    assert allergy["patient"] == {"reference": patient_url}
    assert allergy["reaction"][0]["severity"] == "moderate"
    assert made(ids["note"])["status"] == "current"


def test_a_voided_entry_of_each_kind_is_entered_in_error() -> None:
    fac = new_facility()
    known = known_chart(fac)
    ids, doc = known.ids, known.doc
    author = Author(DEVICE, USER, at("2026-11-06"))
    for n, role in enumerate(("allergy", "note", "lab_result", "dispense", "encounter")):
        chart.void_entry(doc, ids[role], "entered in error", author, f"void-{n}")
    c = _chart(root(doc))
    resources = _resources(_bundle(c))
    assert resources[resource_uuid(c.doc_id, ids["allergy"])]["verificationStatus"][
        "coding"][0]["code"] == "entered-in-error"
    for role, part in (("note", ()), ("lab_result", ()), ("lab_result", ("observation",)),
                       ("dispense", ()), ("encounter", ())):
        assert resources[resource_uuid(c.doc_id, ids[role], *part)]["status"] == (
            "entered-in-error"), role
    Bundle.model_validate(_bundle(c))


def test_a_corrected_triage_links_only_the_signs_the_first_one_measured() -> None:
    known = known_chart(new_facility())
    author = Author(DEVICE, USER, at("2026-11-05", 14))
    chart.correct_entry(known.doc, known.ids["triage"], {
        "encounter_id": known.ids["encounter"], "category": "priority",
        "vitals": {"temperature_c": 38.2, "height_cm": 160}}, author, "e-triage-2")
    c = _chart(root(known.doc))
    resources = _resources(_bundle(c))
    old = resources[resource_uuid(c.doc_id, known.ids["triage"], "temperature_c")]
    new = resources[resource_uuid(c.doc_id, "e-triage-2", "temperature_c")]
    height = resources[resource_uuid(c.doc_id, "e-triage-2", "height_cm")]
    assert (old["status"], new["status"]) == ("entered-in-error", "corrected")
    assert new["extension"][0]["valueReference"] == {"reference": old["identifier"][0]["value"]}
    assert height["status"] == "final" and "extension" not in height  # newly measured
    assert height["valueQuantity"]["code"] == "cm" and height["code"]["coding"][0]["code"] == (
        "8302-2")


def test_a_corrected_lab_result_is_corrected_and_points_at_the_first() -> None:
    known = known_chart(new_facility())
    author = Author(DEVICE, USER, at("2026-11-05", 14))
    chart.correct_entry(known.doc, known.ids["lab_result"], {
        "order_id": known.ids["lab_order"], "value": "negative", "interpretation": "negative"},
        author, "e-result-2")
    c = _chart(root(known.doc))
    resources = _resources(_bundle(c))
    first = resource_uuid(c.doc_id, known.ids["lab_result"], "observation")
    observation = resources[resource_uuid(c.doc_id, "e-result-2", "observation")]
    report = resources[resource_uuid(c.doc_id, "e-result-2")]
    assert resources[first]["status"] == "entered-in-error"
    assert (observation["status"], report["status"]) == ("corrected", "corrected")
    assert observation["extension"][0]["valueReference"] == {"reference": first}
    assert report["extension"][0]["valueReference"] == {
        "reference": resource_uuid(c.doc_id, known.ids["lab_result"])}
    assert resources[resource_uuid(c.doc_id, known.ids["lab_order"])]["status"] == "completed"


def test_a_duplicate_links_both_patients_and_a_newer_kind_is_skipped() -> None:
    fac = new_facility()
    duplicate, survivor = known_chart(fac).doc, chart.register_patient(pid(7), {
        "given_name": "Amina", "family_name": "Bello", "sex": "female",
        "birth_date": "1996-02-03"}, Author(DEVICE, USER, at("2026-11-06")), "2026-11-06")
    chart.link_duplicate(duplicate, survivor, Author(DEVICE, USER, at("2026-11-06")), "link-1")
    dup, surv = _chart(root(duplicate)), _chart(root(survivor))
    newer = dict(root(survivor))
    newer["entries"] = {**newer["entries"], "x-1": {"kind": "vaccination", "at": 1}}
    bundle = _bundle(dup, _chart(newer))
    Bundle.model_validate(bundle)
    resources = _resources(bundle)
    merged, kept = resources[f"urn:uuid:{dup.patient_id}"], resources[f"urn:uuid:{pid(7)}"]
    assert merged["active"] is False and kept["active"] is True
    assert merged["link"] == [{"type": "replaced-by", "other": {"identifier": {
        "system": URI_IDS, "value": f"urn:uuid:{pid(7)}"}}}]
    assert kept["link"][0]["type"] == "replaces"
    assert "_birthDate" not in kept and kept["birthDate"] == "1996-02-03"
    assert len([r for r in resources.values() if r["resourceType"] == "Patient"]) == 2
    assert surv.patient_id == pid(7)


def test_photos_and_documents_are_document_references_naming_their_bytes_by_url() -> None:
    known = known_chart(new_facility())
    doc = known.doc
    photo, scan = "a" * 64, "b" * 64
    add_attachment(doc, {"sha256": photo, "name": "face.jpg", "content_type": "image/jpeg",
                         "size": 48_000, "purpose": "photo"}, who("2026-11-05", 10), "att-1")
    add_attachment(doc, {"sha256": scan, "name": "referral.pdf",
                         "content_type": "application/pdf", "size": 2_000_000},
                   who("2026-11-05", 11), "att-2")
    chart.void_entry(doc, "att-2", "wrong patient", who("2026-11-05", 12), "void-att")
    c = _chart(root(doc))
    bundle = _bundle(c)
    Bundle.model_validate(bundle)
    resources = _resources(bundle)
    face = resources[resource_uuid(c.doc_id, "att-1")]
    assert face["resourceType"] == "DocumentReference" and face["status"] == "current"
    assert face["type"]["coding"][0] == {"system": LOINC, "code": "72170-4",
                                         "display": "Photographic image"}
    assert face["subject"] == {"reference": f"urn:uuid:{c.patient_id}"}
    assert face["content"][0]["attachment"] == {
        "contentType": "image/jpeg", "url": f"/api/v1/attachments/{photo}",
        "title": "face.jpg", "size": 48_000, "creation": "2026-11-05T10:00:00+00:00"}
    assert "data" not in face["content"][0]["attachment"]  # the bytes stay beside the chart
    letter = resources[resource_uuid(c.doc_id, "att-2")]
    assert letter["status"] == "entered-in-error"
    assert letter["type"] == {"text": "Scanned document"}
    assert letter["content"][0]["attachment"]["url"] == f"/api/v1/attachments/{scan}"
