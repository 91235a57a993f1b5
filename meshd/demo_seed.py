"""A realistic demo clinic seeded into a fresh data dir, for `meshd demo` (never real people).

A user for each role with a random 6-digit PIN (hashed as the node hashes them), a drug
catalogue with deliveries, a few hundred sample patients whose past visits were dispensed, and
today's queue in progress across the stations. Past charts are written in one transaction;
today's work goes through the UI's own service, so it is exactly what the pages would record.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from crdt_model import facility
from crdt_model.adapter import Doc, actor_for
from crdt_model.context import Author
from crdt_model.dispense import dispense
from crdt_model.ids import chart_id
from crdt_model.sample import build_sample_chart
from meshd import identity
from meshd.attest import Attestor
from meshd.clinic import Clinic, genesis_for, now_ms, project
from meshd.clinic.laboratory import WORKLIST_DAYS
from meshd.clinic_ui.mount import pin_hash_key
from meshd.clinic_ui.service import NodeClinicService
from meshd.docs import Documents
from meshd.node import SYSTEM_USER
from meshd.store.base import DocWrite
from meshd.store.sqlcipher import SqlCipherStore
from ui.auth import hash_pin

FACILITY_NAME = "Hilltop Health Centre (demo)"
DEVICE_NAME = "Demo front desk"
DEFAULT_PATIENTS = 300
HISTORY_DAYS = 180
DAY_MS = 86_400_000
DISPENSED_DAYS = WORKLIST_DAYS
MARKER_FILE = "demo.json"
STAFF = (
    ("Halima Yusuf", "admin"), ("Grace Achieng", "registration"), ("Peter Okello", "nurse"),
    ("Sarah Mensah", "clinician"), ("Joseph Kamau", "lab"), ("Mary Njoroge", "pharmacy"),
)
# drug id (as crdt_model.sample prescribes), name, stock unit, reorder level, units received
CATALOGUE = (
    ("amoxicillin-250", "Amoxicillin 250 mg", "capsule", 300, 3000),
    ("al-20-120", "Artemether/lumefantrine 20/120", "tablet", 400, 4000),
    ("paracetamol-500", "Paracetamol 500 mg", "tablet", 500, 3000),
    ("ors", "Oral rehydration salts", "sachet", 200, 1500),
    ("zinc-20", "Zinc 20 mg", "tablet", 200, 1500),
    ("metformin-500", "Metformin 500 mg", "tablet", 200, 150),  # below reorder: shows a warning
    ("cotrimoxazole-480", "Cotrimoxazole 480 mg", "tablet", 300, 1000),
)
# A delivery of a default catalogue drug the demo does not name: this many reorder levels.
DELIVERY_REORDERS = 5
# Where today's patients are, in order of arrival: the first are done, the last still wait.
TODAY_PLAN = ("done",) * 4 + ("pharmacy",) * 4 + ("lab",) * 3 + ("consultation",) * 5 + (
    "triage",) * 8
NEW_TODAY = (
    {"given_name": "Imani", "family_name": "Wekesa", "sex": "female", "estimated_age_years": 24,
     "village": "Kisumu", "phone": "+254 712 300401"},
    {"given_name": "Tomás", "family_name": "Quispe", "sex": "male", "birth_date": "2021-03-14",
     "village": "El Alto"},
    {"given_name": "Adjoa", "family_name": "Mensah", "sex": "female", "birth_date": "1987-09-02",
     "village": "Tamale", "phone": "+233 24 555 0199"},
)


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A demo login: name, role and the PIN printed for it."""

    name: str
    role: str
    pin: str
    user_id: str


@dataclass
class DemoClinic:
    """What was seeded."""

    data_dir: Path
    users: list[DemoUser] = field(default_factory=list)
    patients: int = 0
    queue: dict[str, int] = field(default_factory=dict)
    drugs: int = 0


def new_pin(rng: secrets.SystemRandom) -> str:
    """Six random digits, none repeated four times in a row (easy to read out, not to guess)."""
    while True:
        pin = f"{rng.randrange(10**6):06d}"
        if not any(pin[i] * 4 in pin for i in range(3)):
            return pin


async def seed_clinic(
    data_dir: Path, *, patients: int = DEFAULT_PATIENTS, seed: int = 12,
    today: date | None = None,
) -> DemoClinic:
    """Create a demo device in `data_dir` (empty or absent) and fill its clinic."""
    data = identity.init_data_dir(data_dir, device_name=DEVICE_NAME, facility_name=FACILITY_NAME)
    day = (today or date.today()).isoformat()
    made = DemoClinic(data_dir)
    device = data.identity.device_id
    store = SqlCipherStore(data.store_path, identity.load_store_key(data))
    await store.start()
    try:
        genesis = genesis_for(device)
        docs = Documents(store, actor_for(device, SYSTEM_USER), genesis=genesis,
                         project=project, attestor=Attestor(data.device_key, genesis))
        clinic = Clinic(docs, store, data.identity)
        service = NodeClinicService(clinic)
        made.users = await _staff(service, pin_hash_key(data))
        role = {user.role: user.user_id for user in made.users}
        made.drugs = await _pharmacy(clinic, Author(device, role["pharmacy"], now_ms()))
        made.patients = await _history(docs, clinic, device, role, patients, random.Random(seed))
        made.queue = await _today(service, role, day, random.Random(seed + 1))
        made.patients += len(NEW_TODAY)
    finally:
        await store.stop()
    (data_dir / MARKER_FILE).write_text(f'{{"patients": {made.patients}}}\n', encoding="utf-8")
    return made


async def _staff(service: NodeClinicService, pin_key: bytes) -> list[DemoUser]:
    rng = secrets.SystemRandom()
    (admin_name, _), others = STAFF[0], STAFF[1:]
    pin = new_pin(rng)
    admin = await service.set_up_facility(FACILITY_NAME, admin_name, hash_pin(pin, pin_key), "en")
    users = [DemoUser(admin_name, "admin", pin, admin.id)]
    for name, role in others:
        pin = new_pin(rng)
        user = await service.add_user(name, (role,), hash_pin(pin, pin_key), None, by=admin.id)
        users.append(DemoUser(name, role, pin, user.id))
    return users


async def _pharmacy(clinic: Clinic, author: Author) -> int:
    def stock_up(doc: Doc) -> int:
        known = facility.drug_catalogue(doc)  # set-up gave the essential medicines
        for drug_id, name, unit, reorder, _received in CATALOGUE:
            if drug_id not in known:
                facility.add_drug(doc, drug_id, {"name": name, "unit": unit,
                                                 "reorder_level": reorder}, author)
        received = {drug[0]: drug[4] for drug in CATALOGUE}
        drugs = facility.drug_catalogue(doc)
        for drug_id, drug in drugs.items():
            quantity = received.get(drug_id) or DELIVERY_REORDERS * int(drug["reorder_level"])
            facility.receive_stock(doc, {"drug_id": drug_id, "quantity": quantity,
                                         "ref": "Delivery from the district store"},
                                   author, f"receive-{drug_id}")
        return len(drugs)

    return await clinic.docs.update(clinic.facility_doc_id, stock_up, actor=author.actor)


async def _history(docs: Documents, clinic: Clinic, device: str, role: dict[str, str],
                   count: int, rng: random.Random) -> int:
    """Past patients, each seen 1–3 times on a past day; the last weeks' prescriptions dispensed.

    Only what the pharmacy's worklist would still show is dispensed: each dispense re-reads the
    growing stock ledger, so dispensing half a year of visits would take the demo a minute.
    """
    now = now_ms()
    recent = now - DISPENSED_DAYS * DAY_MS
    charts: dict[str, Doc] = {}
    for _ in range(count):
        patient = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        at = now - rng.randint(1, HISTORY_DAYS) * DAY_MS - rng.randint(0, 8 * 3600_000)
        charts[chart_id(patient)] = build_sample_chart(
            patient, Author(device, role["clinician"], at), rng)

    def dispense_all(place: Doc) -> None:
        for doc in charts.values():
            for entry_id, entry in doc.to_dict()["entries"].items():
                if entry.get("kind") != "prescription" or int(entry["at"]) < recent:
                    continue
                author = Author(device, role["pharmacy"], int(entry["at"]) + 1800_000)
                dispense(doc, place, {"prescription_id": entry_id, "drug_id": entry["drug_id"],
                                      "quantity": entry["quantity"]},
                         author, f"d{entry_id}", f"l{entry_id}")

    await docs.update(clinic.facility_doc_id, dispense_all,
                      actor=actor_for(device, role["pharmacy"]))
    await docs.store.write([
        DocWrite(doc_id, doc.save(), tuple(doc.heads()), project(doc_id, doc), snapshot=True)
        for doc_id, doc in charts.items()
    ])
    return len(charts)


async def _today(service: NodeClinicService, role: dict[str, str], day: str,
                 rng: random.Random) -> dict[str, int]:
    """Today's queue: returning and new patients, each as far along as TODAY_PLAN says."""
    rows = await service.clinic.docs.store.doc_ids("chart:")
    returning = [doc_id.split(":", 1)[1] for doc_id in rng.sample(rows, min(len(rows), 21))]
    new = [await service.register_patient(p, day, by=role["registration"]) for p in NEW_TODAY]
    patients = (new + returning)[:len(TODAY_PLAN)]
    rng.shuffle(patients)
    for patient, stage in zip(patients, TODAY_PLAN, strict=False):
        await _visit(service, role, day, patient, stage, rng)
    queue: dict[str, int] = {}
    for entry in await service.queue_today(day):
        queue[entry.station] = queue.get(entry.station, 0) + 1
    return queue


async def _visit(service: NodeClinicService, role: dict[str, str], day: str, patient: str,
                 stage: str, rng: random.Random) -> None:
    encounter = await service.check_in(patient, day, by=role["registration"])
    if stage == "triage":
        return
    vitals: dict[str, Any] = {
        "temperature_c": round(rng.uniform(36.2, 39.6), 1), "pulse_bpm": rng.randint(64, 124),
        "resp_rate_bpm": rng.randint(14, 30), "spo2_pct": rng.randint(93, 100),
        "weight_kg": round(rng.uniform(10, 80), 1),
    }
    await service.record_triage(patient, {
        "encounter_id": encounter, "category": rng.choice(("queue", "queue", "priority")),
        "vitals": vitals}, by=role["nurse"])
    await service.move_patient(patient, day, "consultation", by=role["nurse"])
    if stage == "consultation":
        return
    clinician = role["clinician"]
    await service.add_note(patient, {"text": "Fever and headache for two days.",
                                     "encounter_id": encounter}, by=clinician)
    await service.add_diagnosis(patient, {"code": "B54", "label": "Malaria, unspecified",
                                          "encounter_id": encounter}, by=clinician)
    if stage == "lab":
        await service.order_lab(patient, {"test": "Malaria rapid test", "code": "malaria_rdt",
                                          "encounter_id": encounter}, by=clinician)
        await service.move_patient(patient, day, "lab", by=clinician)
        return
    prescription = await service.prescribe(patient, {
        "drug": "Artemether/lumefantrine 20/120", "drug_id": "al-20-120", "dose": 4,
        "dose_unit": "tablet", "route": "oral", "frequency": "bd", "duration_days": 3,
        "quantity": 24, "encounter_id": encounter}, by=clinician)
    await service.move_patient(patient, day, "pharmacy", by=clinician)
    if stage == "done":
        await service.dispense(patient, {"prescription_id": prescription,
                                         "drug_id": "al-20-120", "quantity": 24},
                               by=role["pharmacy"])
        await service.move_patient(patient, day, "done", by=role["pharmacy"])


def is_demo(data_dir: Path) -> bool:
    """Whether `data_dir` holds a demo clinic made by `seed_clinic`."""
    return (data_dir / MARKER_FILE).exists()

