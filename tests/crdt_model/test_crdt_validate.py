"""Input validation: clean dicts out, or ValidationError naming the field and why."""

from __future__ import annotations

from typing import Any

import pytest
from crdt_fixtures import REGISTRATION, TODAY

from crdt_model import rules, validate
from crdt_model.errors import ValidationError


def _field_of(call: Any, *args: Any) -> str | None:
    with pytest.raises(ValidationError) as err:
        call(*args)
    return err.value.field


def test_registration_is_cleaned_and_birth_date_marked_exact() -> None:
    clean = validate.registration({**REGISTRATION, "given_name": "  Amina "}, TODAY)
    assert clean["given_name"] == "Amina"
    assert clean["birth_date_estimated"] is False


def test_estimated_age_becomes_an_estimated_birth_date() -> None:
    data = {k: v for k, v in REGISTRATION.items() if k != "birth_date"}
    clean = validate.registration({**data, "estimated_age_years": 30}, TODAY)
    assert clean["birth_date"].startswith("1996-")
    assert clean["birth_date_estimated"] is True
    assert "estimated_age_years" not in clean


@pytest.mark.parametrize(("change", "field"), [
    ({"given_name": ""}, "given_name"),
    ({"given_name": 12}, "given_name"),
    ({"family_name": "   "}, "family_name"),
    ({"sex": "F"}, "sex"),
    ({"birth_date": "2027-01-01"}, "birth_date"),
    ({"birth_date": "1990-02-30"}, "birth_date"),
    ({"birth_date": "1850-01-01"}, "birth_date"),
    ({"phone": "call me"}, "phone"),
    ({"famly_name": "x"}, "famly_name"),
    ({"estimated_age_years": 30}, "estimated_age_years"),
    ({"next_of_kin": {"relation": "mother"}}, "next_of_kin.name"),
    ({"next_of_kin": {"name": "Neema", "age": 3}}, "next_of_kin.age"),
])
def test_bad_registration_names_the_field(change: dict[str, Any], field: str) -> None:
    assert _field_of(validate.registration, {**REGISTRATION, **change}, TODAY) == field


def test_registration_requires_a_birth_date_or_age() -> None:
    data = {k: v for k, v in REGISTRATION.items() if k != "birth_date"}
    assert _field_of(validate.registration, data, TODAY) == "birth_date"
    assert _field_of(validate.registration, ["not", "a", "map"], TODAY) == "data"


def test_update_can_clear_optional_fields_but_not_critical_ones() -> None:
    assert validate.demographics_update({"village": None}, TODAY) == {"village": None}
    assert _field_of(validate.demographics_update, {"sex": None}, TODAY) == "sex"
    assert _field_of(validate.demographics_update, {}, TODAY) == "data"


@pytest.mark.parametrize(("vitals", "field"), [
    ({"temperature_c": 52}, "vitals.temperature_c"),
    ({"temperature_c": 29.9}, "vitals.temperature_c"),
    ({"systolic_mmhg": 300}, "vitals.systolic_mmhg"),
    ({"diastolic_mmhg": 10}, "vitals.diastolic_mmhg"),
    ({"systolic_mmhg": 90, "diastolic_mmhg": 95}, "vitals.diastolic_mmhg"),
    ({"pulse_bpm": 300}, "vitals.pulse_bpm"),
    ({"resp_rate_bpm": 2}, "vitals.resp_rate_bpm"),
    ({"spo2_pct": 101}, "vitals.spo2_pct"),
    ({"weight_kg": 0.1}, "vitals.weight_kg"),
    ({"height_cm": 300}, "vitals.height_cm"),
    ({"muac_mm": 12.5}, "vitals.muac_mm"),
    ({"pulse_bpm": "88"}, "vitals.pulse_bpm"),
    ({"pulse_bpm": True}, "vitals.pulse_bpm"),
    ({"temperature_c": float("nan")}, "vitals.temperature_c"),
    ({"bmi": 20}, "vitals.bmi"),
    ({}, "vitals"),
])
def test_impossible_vitals_are_refused(vitals: dict[str, Any], field: str) -> None:
    data = {"encounter_id": "enc1", "category": "queue", "vitals": vitals}
    assert _field_of(rules.triage_entry, data) == field


def test_triage_categories_and_danger_signs() -> None:
    ok = rules.triage_entry({
        "encounter_id": "enc1", "category": "emergency", "vitals": {"spo2_pct": 84},
        "danger_signs": ["convulsions", "shock", "shock"],
    })
    assert ok["danger_signs"] == ["convulsions", "shock"]
    base = {"encounter_id": "enc1", "vitals": {"pulse_bpm": 80}}
    assert _field_of(rules.triage_entry, {**base, "category": "urgent"}) == "category"
    assert _field_of(rules.triage_entry, {
        **base, "category": "queue", "danger_signs": ["coma"]}) == "category"
    assert _field_of(rules.triage_entry, {
        **base, "category": "priority", "danger_signs": ["sneezing"]}) == "danger_signs"
    assert _field_of(rules.triage_entry, {"category": "queue", "vitals": {"pulse_bpm": 80}}) \
        == "encounter_id"


@pytest.mark.parametrize("code", ["B54", "a09.0", "J18.9", "U07.1", "S72.001A"])
def test_icd10_codes_accepted(code: str) -> None:
    assert rules.icd10(code) == code.upper()


@pytest.mark.parametrize("code", ["", "54", "B5", "BB4", "B54.", "B54.12345", "malaria", 54])
def test_icd10_codes_refused(code: object) -> None:
    assert _field_of(rules.icd10, code) == "code"


PRESCRIPTION: dict[str, Any] = {
    "drug": "Amoxicillin", "dose": 250, "dose_unit": "mg", "route": "oral",
    "frequency": "tds", "duration_days": 5, "quantity": 15,
}


@pytest.mark.parametrize(("change", "field"), [
    ({"dose_unit": None}, "dose_unit"),
    ({"dose_unit": "spoons"}, "dose_unit"),
    ({"dose": 0}, "dose"),
    ({"dose": "250"}, "dose"),
    ({"route": "by mouth"}, "route"),
    ({"duration_days": 0}, "duration_days"),
    ({"duration_days": 2.5}, "duration_days"),
    ({"quantity": -1}, "quantity"),
    ({"drug": ""}, "drug"),
    ({"colour": "pink"}, "colour"),
])
def test_bad_prescriptions_name_the_field(change: dict[str, Any], field: str) -> None:
    data = {k: v for k, v in {**PRESCRIPTION, **change}.items() if v is not None}
    assert _field_of(rules.prescription_entry, data) == field


def test_lab_result_and_dispense_input() -> None:
    assert rules.lab_result_entry({"order_id": "o1", "value": 7.2, "unit": "g/dL"})["value"] == 7.2
    assert _field_of(rules.lab_result_entry, {"order_id": "o1", "value": [1]}) == "value"
    assert _field_of(rules.dispense_input, {
        "prescription_id": "p1", "drug_id": "amox", "quantity": 0}) == "quantity"
    assert _field_of(rules.allergy_entry, {"substance": "Sulfa", "severity": "deadly"}) \
        == "severity"
