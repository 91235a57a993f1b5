"""Plain read-only records the UI shows: what the service returns, in the clinic's words.

They carry no behaviour and no Automerge objects, so the daemon can fill them from its
projections and documents, and tests from dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STATIONS = ("registration", "triage", "consultation", "lab", "pharmacy", "done")
ROLES = ("registration", "nurse", "clinician", "lab", "pharmacy", "admin")


@dataclass(frozen=True, slots=True)
class Facility:
    """The clinic this device belongs to."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs in with name + PIN; `pin_hash` is the UI's salted scrypt string."""

    id: str
    name: str
    roles: tuple[str, ...]
    pin_hash: str
    language: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """A patient's search row: enough to recognise them and tell duplicates apart."""

    id: str
    given_name: str
    family_name: str
    sex: str
    birth_date: str
    birth_date_estimated: bool = False
    phone: str | None = None
    village: str | None = None
    national_id: str | None = None
    number: str | None = None
    clinic_id: str | None = None
    next_of_kin: Mapping[str, str] | None = None  # name, relation, phone
    merged_into: str | None = None  # the surviving chart, when this one is a duplicate

    @property
    def full_name(self) -> str:
        """Given name then family name."""
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True, slots=True)
class ChartEntry:
    """One clinical entry (allergy, triage, diagnosis, prescription, lab order/result, note,
    dispensation); never edited: a void or a correction is another entry."""

    id: str
    kind: str
    data: Mapping[str, Any]
    at_ms: int
    user_name: str
    device_name: str
    voided: bool = False
    void_reason: str | None = None
    supersedes: str | None = None


@dataclass(frozen=True, slots=True)
class Chart:
    """A patient's chart: demographics and every entry, oldest first."""

    patient: PatientSummary
    entries: tuple[ChartEntry, ...] = ()

    def of_kind(self, kind: str, *, include_voided: bool = False) -> list[ChartEntry]:
        """The entries of one kind, oldest first."""
        return [
            e for e in self.entries if e.kind == kind and (include_voided or not e.voided)
        ]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of a chart: who, when, which device; `action` is an entry kind or
    registered/void/review/demographics, `summary` the detail in the data's own words."""

    at_ms: int
    user_name: str
    device_name: str
    action: str
    summary: str
    data: Mapping[str, Any] | None = None  # the fields it wrote, as stored
    replaced: tuple[str, Mapping[str, Any]] | None = None  # (kind, fields) it voided or corrected


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A patient waiting (or seen) today: where they are and since when."""

    patient_id: str
    given_name: str
    family_name: str
    station: str
    since_ms: int
    arrived_ms: int
    encounter_id: str
    triage_category: str | None = None
    critical_results: tuple[str, ...] = ()  # tests of today's visit with a critical result


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A document changed (locally or by sync): `kind` is chart, queue, facility or directory."""

    doc_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class StockLevel:
    """A drug of the catalogue and its current level (sum of the ledger; may be negative)."""

    drug_id: str
    name: str
    unit: str
    level: int
    reorder_level: int = 0


@dataclass(frozen=True, slots=True)
class PendingPrescription:
    """A prescription not yet fully dispensed, for the pharmacy worklist."""

    patient_id: str
    patient_name: str
    prescription_id: str
    drug: str
    drug_id: str | None
    dose: float
    dose_unit: str
    route: str
    frequency: str
    duration_days: int
    quantity: int | None
    dispensed: int
    at_ms: int
    prescribed_by: str = ""
    instructions: str = ""
    override_reason: str = ""
    allergies: tuple[str, ...] | None = None  # None: not known yet (an old worklist row)


@dataclass(frozen=True, slots=True)
class PendingLabOrder:
    """A lab order without a result, for the lab worklist."""

    patient_id: str
    patient_name: str
    order_id: str
    test: str
    at_ms: int
    ordered_by: str
    code: str = ""  # of the test catalogue (crdt_model.lab_tests), "" for a test typed in


@dataclass(frozen=True, slots=True)
class ReviewCandidate:
    """One of the concurrently written values of a critical field, with who wrote it."""

    value: str
    user_name: str
    device_name: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """Concurrent edits of one critical field that a person must reconcile."""

    id: str
    patient_id: str
    patient_name: str
    field: str
    candidates: tuple[ReviewCandidate, ...]


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """Another device of the clinic as the sync engine sees it."""

    name: str
    address: str
    connected: bool
    last_contact_ms: int | None
    pending_changes: int | None = 0  # None: not known while it is not connected
    held_back: int = 0  # records paused with this device for using too much of the link


@dataclass(frozen=True, slots=True)
class RelayStatus:
    """The central relay: `state` is connected, unreachable or disabled."""

    url: str
    state: str
    last_contact_ms: int | None


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """A backup of this device: the file written, its size, when."""

    file: str
    size_bytes: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Everything the sync page shows."""

    device_name: str
    peers: tuple[PeerStatus, ...] = ()
    relay: RelayStatus | None = None
    pending_changes: int = 0
    offline_since_ms: int | None = None
    quarantine: tuple[QuarantineItem, ...] = ()


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    """Data a device sent that this one refused: which device, when, what and why."""

    at_ms: int
    device_name: str
    device_key: str
    doc_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A patient a consultation asked back on `day` (the queue page of that day lists them)."""

    patient_id: str
    given_name: str
    family_name: str
    number: str | None
    day: str
    plan: str | None = None


@dataclass(frozen=True, slots=True)
class VisitFact:
    """One patient visit of one day, for reports: who (sex, age), where they went, diagnoses."""

    day: str
    patient_id: str
    sex: str
    age_years: int | None
    stations: tuple[str, ...] = ()
    diagnosis_codes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """The clinic's figures of the days `first_day`..`last_day` (the DHIS2 export's numbers):
    `diagnoses` is ICD-10 code -> age group -> sex -> visits; `age_groups` in their order;
    `stock_consumed` is drug id -> {name, unit, quantity}."""

    first_day: str
    last_day: str
    visits: int
    visits_per_day: Mapping[str, int]
    by_station: Mapping[str, int]
    by_age_sex: Mapping[str, Mapping[str, int]]
    diagnoses: Mapping[str, Mapping[str, Mapping[str, int]]]
    top_diagnoses: tuple[tuple[str, int], ...]
    stock_consumed: Mapping[str, Mapping[str, Any]]
    age_groups: tuple[str, ...]
