"""Realistic, deterministic sample patients for benches, demos and tests (never real people).

`sample_registration(i)` is a pure function of `i`; `build_sample_chart` draws from the
`random.Random` it is given, so the same seed gives the same chart on every run.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.context import Author

GIVEN_NAMES = (
    "Amina", "Wanjiru", "Achieng", "Baraka", "Juma", "Neema", "Zawadi", "Kato", "Nakato",
    "Abebe", "Almaz", "Chinedu", "Ngozi", "Kwame", "Ama", "Kofi", "Fatou", "Moussa", "Aissatou",
    "Ibrahim", "Mariam", "Oluwaseun", "Adaeze", "María", "José", "Guadalupe", "Juan", "Rosa",
    "Luis", "Ana", "Carmen", "Jorge", "Lucía", "Wilmer", "Yesenia",
)
FAMILY_NAMES = (
    "Mwangi", "Otieno", "Kamau", "Odhiambo", "Njoroge", "Mutua", "Okello", "Nansubuga",
    "Tesfaye", "Bekele", "Okafor", "Adeyemi", "Mensah", "Boateng", "Diallo", "Traoré", "Ndiaye",
    "Coulibaly", "Sow", "Hernández", "García", "López", "Martínez", "Rodríguez", "Pérez",
    "Quispe", "Mamani", "Flores", "Ramírez",
)
VILLAGES = (
    "Kibera", "Gulu", "Mbale", "Kisumu", "Bo", "Tamale", "Kano", "Thiès", "Mopti", "Jinja",
    "El Alto", "Cobán", "Chiquimula", "Tegucigalpa", "San Marcos", "Huancavelica",
)
DIAGNOSES = (
    ("B54", "Malaria, unspecified"), ("A09.0", "Infectious gastroenteritis"),
    ("J18.9", "Pneumonia, unspecified"), ("J06.9", "Upper respiratory infection"),
    ("N39.0", "Urinary tract infection"), ("E44.0", "Moderate protein-energy malnutrition"),
    ("I10", "Essential hypertension"), ("L03.9", "Cellulitis"),
)
PRESCRIPTIONS = (
    ("amoxicillin-250", "Amoxicillin 250 mg", 250, "mg", "oral", "tds", 5, 15),
    ("al-20-120", "Artemether/lumefantrine 20/120", 4, "tablet", "oral", "bd", 3, 24),
    ("paracetamol-500", "Paracetamol 500 mg", 500, "mg", "oral", "qds", 3, 12),
    ("ors", "Oral rehydration salts", 1, "sachet", "oral", "after each stool", 3, 10),
    ("zinc-20", "Zinc 20 mg", 20, "mg", "oral", "od", 10, 10),
)
COMPLAINTS = ("fever", "cough", "diarrhoea", "headache", "abdominal pain", "rash", "follow-up")
SAMPLE_BIRTH_BASE = date(1950, 1, 1)
SAMPLE_BIRTH_SPAN_DAYS = 70 * 365


def sample_registration(i: int) -> dict[str, Any]:
    """Registration data of sample patient number `i` (the same for the same `i`)."""
    birth = SAMPLE_BIRTH_BASE + timedelta(days=(i * 7919) % SAMPLE_BIRTH_SPAN_DAYS)
    return {
        "given_name": GIVEN_NAMES[i % len(GIVEN_NAMES)],
        "family_name": FAMILY_NAMES[(i * 7) % len(FAMILY_NAMES)],
        "sex": ("female", "male")[i % 2],
        "birth_date": birth.isoformat(),
        "phone": f"+254 7{(i * 104729) % 100_000_000:08d}",
        "village": VILLAGES[(i * 3) % len(VILLAGES)],
        "national_id": f"NID{i:08d}",
    }


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def build_sample_chart(patient_id: str, author: Author, rng: random.Random) -> Doc:
    """A chart with registration and 1–3 encounters (triage, note, diagnosis, prescription)."""
    today = datetime.fromtimestamp(author.at_ms / 1000, UTC).date()
    data = sample_registration(rng.randrange(1_000_000))
    doc = chart.register_patient(patient_id, data, author, today)
    if rng.random() < 0.3:
        chart.record_allergy(doc, {"substance": "Penicillin", "severity": "moderate"},
                             author, _id(rng))
    for visit in range(rng.randint(1, 3)):
        at = author.at_ms + visit * 60_000
        who = Author(author.device_id, author.user_id, at)
        enc = _id(rng)
        chart.open_encounter(doc, {"chief_complaint": rng.choice(COMPLAINTS)}, who, enc)
        vitals = {
            "temperature_c": round(rng.uniform(36.0, 39.8), 1),
            "pulse_bpm": rng.randint(60, 130), "resp_rate_bpm": rng.randint(12, 32),
            "systolic_mmhg": rng.randint(95, 150), "diastolic_mmhg": rng.randint(55, 90),
            "spo2_pct": rng.randint(90, 100), "weight_kg": round(rng.uniform(8, 85), 1),
        }
        chart.record_triage(doc, {"encounter_id": enc, "category": rng.choice(
            ("priority", "queue", "queue")), "vitals": vitals}, who, _id(rng))
        chart.add_note(doc, {"text": "History and examination recorded.", "encounter_id": enc},
                       who, _id(rng))
        code, label = rng.choice(DIAGNOSES)
        chart.record_diagnosis(doc, {"code": code, "label": label, "encounter_id": enc},
                               who, _id(rng))
        drug_id, drug, dose, unit, route, freq, days, qty = rng.choice(PRESCRIPTIONS)
        chart.prescribe(doc, {
            "drug": drug, "drug_id": drug_id, "dose": dose, "dose_unit": unit, "route": route,
            "frequency": freq, "duration_days": days, "quantity": qty, "encounter_id": enc,
        }, who, _id(rng))
        chart.close_encounter(doc, enc, who)
    return doc
