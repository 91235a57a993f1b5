"""What the UI knows about clinic work: stations, role labels (what each role may do is
`crdt_model.access`, shared with the clinic core), vitals with units and normal ranges, danger
signs, lab tests. Labels are marked for translation with `N_`.

Plausible ranges (what may be stored at all) come from `crdt_model.rules`; the normal ranges
here only decide what is highlighted.
"""

from __future__ import annotations

from dataclasses import dataclass

from crdt_model.allergies import ALLERGY_CLASSES
from crdt_model.lab_tests import LAB_TESTS as CATALOGUE_TESTS
from crdt_model.queue import next_station as next_station  # the queue's menus offer it first
from crdt_model.rules import DANGER_SIGNS, DOSE_UNITS, ROUTES, VITAL_RANGES
from ui.i18n import N_, gettext

STATION_LABELS = {
    "registration": N_("Registration"),
    "triage": N_("Triage"),
    "consultation": N_("Consultation"),
    "lab": N_("Laboratory"),
    "pharmacy": N_("Pharmacy"),
    "done": N_("Done"),
}

ROLE_LABELS = {
    "registration": N_("Registration clerk"),
    "nurse": N_("Nurse"),
    "clinician": N_("Clinician"),
    "lab": N_("Laboratory"),
    "pharmacy": N_("Pharmacy"),
    "admin": N_("Administrator"),
}

@dataclass(frozen=True, slots=True)
class VitalSign:
    """A vital sign field: label, unit, step, plausible range and normal range."""

    key: str
    label: str
    unit: str
    step: str
    low: float
    high: float
    normal_low: float
    normal_high: float


def _vital(key: str, label: str, unit: str, step: str, normal: tuple[float, float]) -> VitalSign:
    low, high = VITAL_RANGES[key]
    return VitalSign(key, label, unit, step, low, high, normal[0], normal[1])


VITALS = (
    _vital("temperature_c", N_("Temperature"), "°C", "0.1", (36.0, 37.5)),
    _vital("pulse_bpm", N_("Pulse"), "/min", "1", (60, 100)),
    _vital("resp_rate_bpm", N_("Breathing rate"), "/min", "1", (12, 20)),
    _vital("systolic_mmhg", N_("Blood pressure, systolic"), "mmHg", "1", (90, 139)),
    _vital("diastolic_mmhg", N_("Blood pressure, diastolic"), "mmHg", "1", (60, 89)),
    _vital("spo2_pct", N_("Oxygen saturation"), "%", "1", (94, 100)),
    _vital("weight_kg", N_("Weight"), "kg", "0.1", (0.3, 300)),
    _vital("height_cm", N_("Height"), "cm", "0.1", (20, 250)),
    _vital("muac_mm", N_("Mid-upper arm circumference"), "mm", "1", (125, 400)),
)
VITALS_BY_KEY = {v.key: v for v in VITALS}


def out_of_normal(key: str, value: float) -> bool:
    """Whether a vital sign is outside its normal (adult) range and should be highlighted."""
    sign = VITALS_BY_KEY.get(key)
    return sign is not None and not sign.normal_low <= value <= sign.normal_high


def typed_out_of_normal(key: str, typed: object) -> bool:
    """True when a form's typed value of vital `key` is a number outside its normal range."""
    try:
        return out_of_normal(key, float(str(typed).replace(",", ".")))
    except ValueError:
        return False


TRIAGE_LABELS = {
    "emergency": N_("Emergency (red): see now"),
    "priority": N_("Priority (yellow): see soon"),
    "queue": N_("Queue (green): wait your turn"),
}

DANGER_SIGN_LABELS = {
    "obstructed_breathing": N_("Obstructed breathing"),
    "severe_respiratory_distress": N_("Severe difficulty breathing"),
    "central_cyanosis": N_("Blue lips or tongue"),
    "shock": N_("Shock (cold hands, weak fast pulse)"),
    "coma": N_("Unconscious"),
    "convulsions": N_("Convulsions"),
    "severe_dehydration": N_("Severe dehydration"),
    "tiny_baby": N_("Tiny baby (under 2 months)"),
    "temperature_very_high": N_("Very high temperature"),
    "trauma": N_("Major trauma"),
    "pallor": N_("Severe pallor"),
    "poisoning": N_("Poisoning"),
    "severe_pain": N_("Severe pain"),
    "restless_irritable_lethargic": N_("Restless, irritable or very sleepy"),
    "referral": N_("Urgent referral"),
    "malnutrition": N_("Visible severe wasting"),
    "oedema_both_feet": N_("Swelling of both feet"),
    "burns": N_("Major burns"),
    "unable_to_drink": N_("Unable to drink or breastfeed"),
    "vomiting_everything": N_("Vomiting everything"),
}
assert set(DANGER_SIGN_LABELS) == set(DANGER_SIGNS)

DOSE_UNIT_LABELS = {
    "mg": "mg", "g": "g", "mcg": "mcg", "mL": "mL", "IU": N_("IU"),
    "tablet": N_("tablet"), "capsule": N_("capsule"), "drop": N_("drop"), "puff": N_("puff"),
    "sachet": N_("sachet"), "unit": N_("unit"),
}
assert set(DOSE_UNIT_LABELS) == set(DOSE_UNITS)
ROUTE_LABELS = {
    "oral": N_("By mouth"),
    "iv": N_("Into a vein (IV)"),
    "im": N_("Into a muscle (IM)"),
    "sc": N_("Under the skin"),
    "topical": N_("On the skin"),
    "rectal": N_("Rectal"),
    "inhaled": N_("Inhaled"),
    "nasal": N_("Nasal"),
    "ophthalmic": N_("Eye"),
    "otic": N_("Ear"),
    "sublingual": N_("Under the tongue"),
    "vaginal": N_("Vaginal"),
}
assert set(ROUTE_LABELS) == set(ROUTES)

FREQUENCY_LABELS = {
    "once": N_("Once"),
    "1x/day": N_("Once a day"),
    "2x/day": N_("Twice a day"),
    "3x/day": N_("Three times a day"),
    "4x/day": N_("Four times a day"),
    "every 8 h": N_("Every 8 hours"),
    "as needed": N_("When needed"),
}

LAB_TESTS = {
    "malaria_rdt": (N_("Malaria rapid test"), ""),
    "hb": (N_("Haemoglobin"), "g/dL"),
    "glucose": (N_("Blood glucose"), "mmol/L"),
    "urine_dipstick": (N_("Urine dipstick"), ""),
    "hiv_rapid": (N_("HIV rapid test"), ""),
    "pregnancy": (N_("Pregnancy test"), ""),
    "sputum_afb": (N_("Sputum smear (TB)"), ""),
    "stool": (N_("Stool microscopy"), ""),
}
assert {k: t[0] for k, t in LAB_TESTS.items()} == {k: t.name for k, t in CATALOGUE_TESTS.items()}
# The words a test's result may be (crdt_model.lab_tests), as a lab worker reads them.
RESULT_LABELS = {
    "positive": N_("Positive"), "negative": N_("Negative"), "invalid": N_("Invalid"),
    "scanty": N_("Scanty"), "1+": "1+", "2+": "2+", "3+": "3+",
}

SEX_LABELS = {
    "female": N_("Female"),
    "male": N_("Male"),
    "other": N_("Other"),
    "unknown": N_("Unknown"),
}

INTERPRETATION_LABELS = {
    "normal": N_("Normal"),
    "abnormal": N_("Abnormal"),
    "critical": N_("Critical"),
    "positive": N_("Positive"),
    "negative": N_("Negative"),
}

# Drug classes an allergy is recorded against (ATC code -> name), as the clinic core names them.
ALLERGY_CLASS_LABELS = {
    "J01C": N_("Penicillins"),
    "J01D": N_("Cephalosporins"),
    "J01E": N_("Sulfonamides (sulfa drugs)"),
    "M01A": N_("NSAIDs (anti-inflammatory painkillers)"),
    "J01FA": N_("Macrolides"),
    "J01MA": N_("Fluoroquinolones"),
    "J01AA": N_("Tetracyclines"),
    "J01GB": N_("Aminoglycosides"),
    "N02A": N_("Opioids"),
    "P01B": N_("Antimalarials"),
}
assert ALLERGY_CLASS_LABELS == {code: name for code, (name, _) in ALLERGY_CLASSES.items()}
_CLASS_NAMES = set(ALLERGY_CLASS_LABELS.values())


def allergen(substance: object) -> str:
    """What a patient is allergic to, in the current language when it is a drug class."""
    text = str(substance)
    return gettext(text) if text in _CLASS_NAMES else text


# What a chart history line records (HistoryEntry.action).
ACTION_LABELS = {
    "registered": N_("Registered"),
    "encounter": N_("Visit opened"),
    "triage": N_("Triage"),
    "allergy": N_("Allergy"),
    "note": N_("Note"),
    "diagnosis": N_("Diagnosis"),
    "prescription": N_("Prescription"),
    "lab_order": N_("Lab order"),
    "lab_result": N_("Lab result"),
    "dispensation": N_("Dispensed"),
    "void": N_("Voided"),
    "correction": N_("Correction"),
    "review": N_("Review resolved"),
    "review_resolution": N_("Review resolved"),
    "demographics": N_("Details changed"),
    "encounter_closed": N_("Visit closed"),
    "prescription_cancel": N_("Prescription cancelled"),
    "merge_link": N_("Linked to a duplicate chart"),
    "attachment": N_("Photo or document added"),
    "consultation": N_("Consultation"),
    "referral": N_("Referral"),
    "disclosure": N_("Chart shared with another clinic"),
}

FIELD_LABELS = {
    "given_name": N_("Given name"),
    "family_name": N_("Family name"),
    "sex": N_("Sex"),
    "birth_date": N_("Birth date"),
    "phone": N_("Phone"),
    "village": N_("Village"),
    "national_id": N_("National ID number"),
    "clinic_id": N_("Clinic number"),
    "address": N_("Address"),
    "next_of_kin": N_("Next of kin"),
}
