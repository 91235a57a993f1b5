"""The seeded plan of a clinic's day: who arrives when, at which devices, with what illness.

Pure: the same seed, length and node count give the same plan. What happens when the plan runs
(which writes a partitioned or killed node refuses) depends on timing and is recorded apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

GIVEN = ("Amina", "Baraka", "Chausiku", "Daudi", "Eshe", "Faraji", "Halima", "Imani", "Jabari",
         "Kesi", "Lulu", "Mosi", "Neema", "Omari", "Pendo", "Rehema", "Sefu", "Tumaini", "Zuri")
FAMILY = ("Otieno", "Kamau", "Mwangi", "Achieng", "Njoroge", "Wanjiru", "Mutua", "Odhiambo",
          "Kiprop", "Chebet", "Hassan", "Juma", "Nyambura", "Kariuki")
VILLAGES = ("Kilima", "Mto", "Pwani", "Shamba", "Msitu")
# drug id -> (name, form, strength, prescribing template)
DRUGS = {
    "amoxicillin-500": ("Amoxicillin", "capsule", "500 mg",
                        {"dose": 500, "dose_unit": "mg", "route": "oral", "frequency": "tds",
                         "duration_days": 5}),
    "artemether-lumefantrine": ("Artemether-lumefantrine", "tablet", "20/120 mg",
                                {"dose": 4, "dose_unit": "tablet", "route": "oral",
                                 "frequency": "bd", "duration_days": 3}),
    "paracetamol-500": ("Paracetamol", "tablet", "500 mg",
                        {"dose": 1000, "dose_unit": "mg", "route": "oral", "frequency": "qds",
                         "duration_days": 3}),
    "ors-sachet": ("ORS", "sachet", "20.5 g",
                   {"dose": 1, "dose_unit": "sachet", "route": "oral", "frequency": "prn",
                    "duration_days": 2}),
}
# (ICD-10, label, drug, lab test or None)
ILLNESSES = (
    ("B54", "Malaria, unspecified", "artemether-lumefantrine", "Malaria RDT"),
    ("J06.9", "Acute upper respiratory infection", "amoxicillin-500", None),
    ("A09", "Diarrhoea and gastroenteritis", "ors-sachet", "Stool microscopy"),
    ("R50.9", "Fever, unspecified", "paracetamol-500", "Full blood count"),
)
OPENING_STOCK = 10_000
ARRIVALS_END = 0.75  # of the day: later arrivals would not finish their visit before close


@dataclass(frozen=True, slots=True)
class Visit:
    """One patient's visit: arrival, stations (node indexes) and what the clinicians do."""

    number: int
    arrive_s: float
    returning_of: int | None  # the earlier visit of the same patient, if any
    registration: dict[str, object]
    reg: int
    triage: int
    consult: int
    helper: int  # a second device editing the chart at the same moment as `consult`
    lab: int
    pharmacy: int
    pharmacy2: int  # a second dispensary PC dispensing the same drug at the same moment
    illness: tuple[str, str, str, str | None]
    allergy: bool
    quantity: int
    split_dispense: bool
    vitals: dict[str, float]
    pause_s: tuple[float, ...]  # between the visit's steps: walking from desk to desk


@dataclass(frozen=True, slots=True)
class StockEvent:
    """A delivery received (quantity > 0) or a count adjustment at some node and time."""

    at_s: float
    node: int
    drug_id: str
    quantity: int


def _other(rng: random.Random, nodes: int, not_this: int) -> int:
    return rng.choice([i for i in range(nodes) if i != not_this])


def plan_day(seed: int, seconds: float, nodes: int, visits: int) -> list[Visit]:
    """`visits` visits arriving over the first ARRIVALS_END of `seconds`, on `nodes` nodes."""
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(1.0, seconds * ARRIVALS_END) for _ in range(visits))
    plan: list[Visit] = []
    # Stations are devices in rooms; a tablet sometimes moves, so a station is not fixed.
    home = {"reg": 0, "triage": 1 % nodes, "consult": 2 % nodes, "lab": 3 % nodes,
            "pharmacy": 4 % nodes}
    for number, arrive in enumerate(arrivals):
        station = {k: (v if rng.random() < 0.8 else rng.randrange(nodes)) for k, v in home.items()}
        earlier = [v for v in plan if v.returning_of is None and arrive - v.arrive_s > 15.0]
        back = rng.choice(earlier) if earlier and rng.random() < 0.25 else None
        registration: dict[str, object] = {
            "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
            "sex": rng.choice(("female", "male")),
            "birth_date": f"{rng.randint(1950, 2022)}-{rng.randint(1, 12):02d}-"
                          f"{rng.randint(1, 28):02d}",
            "village": rng.choice(VILLAGES),
        }
        plan.append(Visit(
            number=number, arrive_s=arrive,
            returning_of=None if back is None else back.number,
            registration=back.registration if back else registration,
            reg=station["reg"], triage=station["triage"], consult=station["consult"],
            helper=_other(rng, nodes, station["consult"]), lab=station["lab"],
            pharmacy=station["pharmacy"], pharmacy2=_other(rng, nodes, station["pharmacy"]),
            illness=rng.choice(ILLNESSES), allergy=rng.random() < 0.2,
            quantity=rng.randint(24, 30), split_dispense=rng.random() < 0.35,  # 24: AL 4 bd 3d
            vitals={"temperature_c": round(rng.uniform(36.0, 40.5), 1),
                    "pulse_bpm": rng.randint(60, 130), "spo2_pct": rng.randint(90, 100)},
            pause_s=tuple(round(rng.uniform(0.2, 1.5), 2) for _ in range(12)),
        ))
    return plan


def plan_stock(seed: int, seconds: float, nodes: int) -> list[StockEvent]:
    """Deliveries and count corrections during the day, about one every 20 s."""
    rng = random.Random(seed * 7919 + 1)
    events = []
    for _ in range(max(2, int(seconds / 20))):
        drug = rng.choice(sorted(DRUGS))
        quantity = rng.choice((200, 500, 1000)) if rng.random() < 0.7 else -rng.randint(1, 9)
        events.append(StockEvent(rng.uniform(2.0, seconds * 0.9), rng.randrange(nodes), drug,
                                 quantity))
    return sorted(events, key=lambda e: e.at_s)
