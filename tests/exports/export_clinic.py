"""Charts for the export tests: one chart with every kind of entry, and a generated clinic
whose DHIS2 counts are known from how it was built (not from the code under test)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from crdt_model import chart, facility
from crdt_model.adapter import Doc
from crdt_model.context import Author

DEVICE, USER = "d" * 16, "a" * 16
FACILITY = "hilltop"
NOVEMBER = ("2026-11-01", "2026-11-30")


def at(day: str, hour: int = 9) -> int:
    """Epoch ms of `hour`:00 UTC on `day`."""
    return int(datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp() * 1000)


def utc(at_ms: int) -> datetime:
    """The tests' clinic keeps UTC."""
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def who(day: str, hour: int = 9) -> Author:
    """The clinician writing on `day` at `hour`."""
    return Author(DEVICE, USER, at(day, hour))


def pid(n: int) -> str:
    """A fixed patient UUID."""
    return str(uuid.UUID(int=n + 1, version=4))


def new_facility() -> Doc:
    """The facility with two drugs in stock."""
    doc = facility.new_facility(FACILITY, {"name": "Hilltop Clinic"}, who("2026-10-01"))
    for drug in ("al-20-120", "amoxicillin-250"):
        facility.add_drug(doc, drug, {"name": drug}, who("2026-10-01"))
    facility.receive_stock(doc, {"drug_id": "al-20-120", "quantity": 500}, who("2026-10-01"),
                           "rx-1")
    facility.receive_stock(doc, {"drug_id": "al-20-120", "quantity": 100}, who("2026-11-02"),
                           "rx-2")
    facility.receive_stock(doc, {"drug_id": "amoxicillin-250", "quantity": 300},
                           who("2026-10-01"), "rx-3")
    return doc


@dataclass
class KnownChart:
    """The full chart and the ids of its entries, by role."""

    doc: Doc
    ids: dict[str, str] = field(default_factory=dict)


def known_chart(fac: Doc) -> KnownChart:
    """A chart using every entry kind, a void, a correction and a cancellation."""
    day = "2026-11-05"
    doc = chart.register_patient(pid(0), {
        "given_name": "Amina", "family_name": "Bello", "sex": "female",
        "estimated_age_years": 30, "phone": "+254 712 345678", "village": "Kisumu",
        "national_id": "NID-42", "address": "Plot 7, Market Road",
        "next_of_kin": {"name": "Juma Bello", "relation": "brother"},
    }, who(day, 8), day)
    ids = {k: f"e-{k}" for k in (
        "allergy", "encounter", "triage", "note", "diagnosis", "correction", "voided_dx",
        "void", "prescription", "dispense", "cancelled_rx", "cancel", "lab_order", "lab_result",
    )}
    chart.record_allergy(doc, {"substance": "Penicillin", "reaction": "rash",
                               "severity": "moderate"}, who(day, 8), ids["allergy"])
    chart.open_encounter(doc, {"chief_complaint": "fever"}, who(day, 9), ids["encounter"])
    enc = ids["encounter"]
    chart.record_triage(doc, {"encounter_id": enc, "category": "priority", "vitals": {
        "temperature_c": 38.9, "pulse_bpm": 110, "resp_rate_bpm": 24, "systolic_mmhg": 120,
        "diastolic_mmhg": 80, "spo2_pct": 96, "weight_kg": 61.5,
    }}, who(day, 9), ids["triage"])
    chart.add_note(doc, {"text": "Fever for three days.", "encounter_id": enc}, who(day, 10),
                   ids["note"])
    chart.record_diagnosis(doc, {"code": "B54", "label": "Malaria, unspecified",
                                 "encounter_id": enc}, who(day, 10), ids["diagnosis"])
    chart.correct_entry(doc, ids["diagnosis"], {
        "code": "B50.9", "label": "Plasmodium falciparum malaria, unspecified",
        "certainty": "confirmed", "encounter_id": enc}, who(day, 11), ids["correction"])
    chart.record_diagnosis(doc, {"code": "J06.9", "label": "Upper respiratory infection",
                                 "encounter_id": enc}, who(day, 10), ids["voided_dx"])
    chart.void_entry(doc, ids["voided_dx"], "wrong patient", who(day, 10), ids["void"])
    chart.prescribe(doc, {"drug": "Artemether/lumefantrine 20/120", "drug_id": "al-20-120",
                          "dose": 4, "dose_unit": "tablet", "route": "oral", "frequency": "bd",
                          "duration_days": 3, "quantity": 24, "encounter_id": enc},
                    who(day, 11), ids["prescription"])
    chart.dispense(doc, fac, {"prescription_id": ids["prescription"], "drug_id": "al-20-120",
                              "quantity": 24}, who(day, 12), ids["dispense"], "ledger-1")
    chart.prescribe(doc, {"drug": "Amoxicillin 250 mg", "drug_id": "amoxicillin-250",
                          "dose": 250, "dose_unit": "mg", "route": "oral", "frequency": "tds",
                          "duration_days": 5, "encounter_id": enc},
                    who(day, 11), ids["cancelled_rx"])
    chart.cancel_prescription(doc, ids["cancelled_rx"], "not needed", who(day, 11),
                              ids["cancel"])
    chart.order_lab(doc, {"test": "Malaria RDT", "specimen": "blood", "encounter_id": enc},
                    who(day, 10), ids["lab_order"])
    chart.record_lab_result(doc, {"order_id": ids["lab_order"], "value": "positive",
                                  "interpretation": "positive"}, who(day, 10), ids["lab_result"])
    chart.close_encounter(doc, enc, who(day, 13))
    return KnownChart(doc, ids)


# The generated clinic's data elements (their uids in tests/exports/mapping fixtures).
AGE_OF = (0, 3, 10, 30, 70)


def age_group(age: int) -> str:
    """The OPD age groups of the example mapping."""
    return "<1" if age < 1 else "1-4" if age < 5 else "5-14" if age < 15 else "15+"


def generated_clinic(n: int, fac: Doc) -> tuple[list[Doc], Counter[tuple[str, str]]]:
    """`n` charts with November visits, and the counts a November report must show, keyed by
    (count name, combo key) with the example mapping's combo keys."""
    expected: Counter[tuple[str, str]] = Counter()
    docs = []
    for i in range(n):
        sex = ("female", "male")[i % 2]
        age = AGE_OF[i % len(AGE_OF)]
        born = date(2026 - age, 6, 1).isoformat()
        doc = chart.register_patient(pid(1000 + i), {
            "given_name": f"P{i}", "family_name": "Test", "sex": sex, "birth_date": born,
        }, who("2026-10-01"), "2026-10-01")
        days = []
        if i % 3 == 0:
            days.append("2026-10-20")  # an earlier visit: November's is a follow-up
        days.append(f"2026-11-{1 + i % 28:02d}")
        if i % 5 == 0:
            days.append(f"2026-11-{2 + i % 28:02d}")
        for number, day in enumerate(days):
            enc = f"enc-{number}"
            chart.open_encounter(doc, {}, who(day), enc)
            signs = ["referral"] if i % 6 == 0 and number == len(days) - 1 else []
            chart.record_triage(doc, {"encounter_id": enc, "category": "priority" if signs
                                      else "queue", "vitals": {"temperature_c": 37.0},
                                      "danger_signs": signs}, who(day), f"tri-{number}")
            in_november = day.startswith("2026-11")
            first_november = in_november and not any(d.startswith("2026-11") for d in days[:number])
            malaria = first_november and (i % 4 == 0 or i % 7 == 0)
            if first_november and i % 4 == 0:
                chart.record_diagnosis(doc, {"code": "B54", "label": "Malaria",
                                             "encounter_id": enc}, who(day), f"dx-a{number}")
            if first_november and i % 7 == 0:
                chart.record_diagnosis(doc, {"code": "B50.9", "label": "P. falciparum malaria",
                                             "encounter_id": enc}, who(day), f"dx-b{number}")
            if first_november and i % 9 == 0:
                chart.record_diagnosis(doc, {"code": "B53.8", "label": "Other malaria",
                                             "encounter_id": enc}, who(day), f"dx-c{number}")
                chart.void_entry(doc, f"dx-c{number}", "entered in error", who(day), "void-c")
            if not in_november:
                continue
            expected[("visits", f"{age_group(age)}/{sex}")] += 1
            expected[("new_visits" if number == 0 else "follow_up_visits", "default")] += 1
            if malaria:
                expected[("diagnosis_visits", "<5" if age < 5 else "5+")] += 1
            if signs:
                expected[("referrals", "default")] += 1
        if i % 10 == 0:  # a visit voided as a whole: counted nowhere
            chart.open_encounter(doc, {}, who("2026-11-29"), "enc-void")
            chart.void_entry(doc, "enc-void", "opened by mistake", who("2026-11-29"), "void-e")
        if i % 8 == 0:
            rx = f"rx-{i}"
            chart.prescribe(doc, {"drug": "AL", "drug_id": "al-20-120", "dose": 1,
                                  "dose_unit": "tablet", "route": "oral", "frequency": "bd",
                                  "duration_days": 3, "quantity": 6}, who(days[-1]), rx)
            chart.dispense(doc, fac, {"prescription_id": rx, "drug_id": "al-20-120",
                                      "quantity": 6}, who(days[-1]), f"disp-{i}", f"ledger-{i}")
            if days[-1].startswith("2026-11"):
                expected[("stock_consumed", "default")] += 6
            expected[("stock_on_hand", "default")] -= 6
        docs.append(doc)
    expected[("stock_on_hand", "default")] += 600
    expected[("stock_received", "default")] += 100
    return docs, expected


def root(doc: Doc) -> dict[str, Any]:
    """The plain dict an export reads."""
    return doc.to_dict()
