"""The FHIR Patient of a chart: identifiers, name, sex, birth date (marked when estimated),
phone, address, next of kin and duplicate links. Pure."""

from __future__ import annotations

from typing import Any

from crdt_model.chart_doc import MERGE_LINK
from meshd.exports.chart_read import Chart
from meshd.exports.fhir_codes import (
    BIRTH_DATE_ESTIMATED,
    IDENTIFIER_TYPE,
    concept,
    identifier,
)

# Demographic field -> the HL7 v2 identifier type it is.
_ID_TYPES = {"national_id": ("NI", "National unique individual identifier"),
             "clinic_id": ("MR", "Medical record number")}
# merge_link relation -> Patient.link.type.
_LINK_TYPES = {"merged_into": "replaced-by", "merged_from": "replaces"}


def patient_url(patient_id: str) -> str:
    """A patient's fullUrl: the chart's own UUID."""
    return f"urn:uuid:{patient_id}"


def _text(shown: Any) -> str | None:
    return shown.strip() or None if isinstance(shown, str) else None


def _identifiers(chart: Chart) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [identifier(patient_url(chart.patient_id))]
    for key, (code, display) in _ID_TYPES.items():
        value = _text(chart.demographics.get(key))
        if value:
            found.append({"type": concept(IDENTIFIER_TYPE, code, display), "value": value})
    return found


def _links(chart: Chart) -> list[dict[str, Any]]:
    links = []
    for entry_id, entry in chart.of_kind(MERGE_LINK):
        other, kind = entry.get("other"), _LINK_TYPES.get(str(entry.get("relation")))
        if chart.state(entry_id) == "live" and isinstance(other, str) and kind:
            url = patient_url(other.split(":")[-1])
            links.append({"other": {"identifier": identifier(url)}, "type": kind})
    return links


def _contact(kin: Any) -> dict[str, Any] | None:
    if not isinstance(kin, dict) or not _text(kin.get("name")):
        return None
    contact: dict[str, Any] = {"name": {"text": kin["name"]}}
    if _text(kin.get("relation")):
        contact["relationship"] = [{"text": kin["relation"]}]
    if _text(kin.get("phone")):
        contact["telecom"] = [{"system": "phone", "value": kin["phone"]}]
    return contact


def patient(chart: Chart) -> tuple[str, dict[str, Any]]:
    """(fullUrl, Patient) of `chart`."""
    shown = chart.demographics
    resource: dict[str, Any] = {"resourceType": "Patient", "identifier": _identifiers(chart)}
    given, family = _text(shown.get("given_name")), _text(shown.get("family_name"))
    name = {**({"family": family} if family else {}), **({"given": [given]} if given else {})}
    if name:
        resource["name"] = [{"use": "official", **name}]
    if shown.get("sex") in ("female", "male", "other", "unknown"):
        resource["gender"] = shown["sex"]
    if _text(shown.get("birth_date")):
        resource["birthDate"] = shown["birth_date"]
        if shown.get("birth_date_estimated") is True:
            resource["_birthDate"] = {
                "extension": [{"url": BIRTH_DATE_ESTIMATED, "valueBoolean": True}]
            }
    if _text(shown.get("phone")):
        resource["telecom"] = [{"system": "phone", "value": shown["phone"]}]
    address = {k: v for k, v in (
        ("text", _text(shown.get("address"))), ("city", _text(shown.get("village"))),
    ) if v}
    if address:
        resource["address"] = [address]
    contact = _contact(shown.get("next_of_kin"))
    if contact:
        resource["contact"] = [contact]
    links = _links(chart)
    if links:
        resource["link"] = links
        resource["active"] = not any(link["type"] == "replaced-by" for link in links)
    return patient_url(chart.patient_id), resource

