"""The ClinicService Protocol: everything the web UI asks of the device, in clinic words.

The daemon implements it as a thin adapter (`meshd.clinic_ui`) over its one clinic core, which
decides every clinical and workflow rule; the UI's tests run that real core over an in-memory
store (docs/ARCHITECTURE.md). Inputs that become chart entries are plain mappings in the shapes
that `crdt_model.validate` / `crdt_model.rules` check; the service raises `ValidationError` (with
`field`), `NotFound` or `ConflictError` from `crdt_model.errors` and stores nothing then.
`by` is always the id of the logged-in user; the service adds the device and the time.
Every search uses an index: the UI calls these on every page view (< 100 ms, 50,000 charts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from ui.other_clinics import OtherClinicsFound
from ui.records import (
    BackupInfo,
    ChangeEvent,
    Chart,
    Facility,
    FollowUp,
    HistoryEntry,
    PatientSummary,
    PendingLabOrder,
    PendingPrescription,
    PeriodReport,
    QueueEntry,
    ReviewItem,
    StockLevel,
    SyncStatus,
    User,
    VisitFact,
)
from ui.stock import StockBatch, StockCard


class ClinicService(Protocol):
    """What the UI needs from the node; all methods are coroutines except `subscribe`."""

    # --- facility and users (directory:<mesh>) -------------------------------------------
    async def facility(self) -> Facility | None:
        """This device's facility, or None before first-run set-up."""
        ...

    async def set_up_facility(
        self, facility_name: str, admin_name: str, admin_pin_hash: str, language: str
    ) -> User:
        """First run: name the facility and create the first admin; ConflictError if done."""
        ...

    async def users(self) -> list[User]:
        """Every user of the mesh directory, active or not."""
        ...

    async def add_user(
        self, name: str, roles: tuple[str, ...], pin_hash: str, language: str | None, by: str
    ) -> User:
        """A new user; ConflictError(field="name") when the name is taken."""
        ...

    async def set_user_language(self, user_id: str, language: str, by: str) -> None:
        """Remember the language a user reads the UI in."""
        ...

    async def set_user_pin(self, user_id: str, pin_hash: str, by: str) -> None:
        """Replace a user's PIN hash."""
        ...

    async def change_user(self, user_id: str, changes: Mapping[str, Any], by: str) -> None:
        """Change a user's roles, language or `disabled` flag (admin); a disabled user can log
        in on no device. ConflictError when it would leave no enabled admin."""
        ...

    # --- patients and charts (chart:<uuid>) ----------------------------------------------
    async def search_patients(self, query: str, limit: int = 20) -> list[PatientSummary]:
        """Patients matching name, phone, id or village, tolerant of spelling, best first."""
        ...

    async def register_patient(self, demographics: Mapping[str, Any], today: str, by: str) -> str:
        """A new chart from `validate.registration` input; returns the patient id."""
        ...

    async def admit_patient(self, demographics: Mapping[str, Any], today: str, by: str,
                            photo: tuple[bytes, str] | None = None) -> str:
        """A walk-in, checked in for triage today, with its `photo` (bytes, file name); its id.
        ValidationError(field="photo") for a photo that is not an image (nothing registered)."""
        ...

    async def likely_duplicates(
        self, demographics: Mapping[str, Any], today: str
    ) -> list[PatientSummary]:
        """Patients who may be the one about to be registered (similar name, same phone);
        ValidationError for registration input that would be refused."""
        ...

    async def update_demographics(
        self, patient_id: str, changes: Mapping[str, Any], by: str
    ) -> None:
        """Write the changed demographic fields (concurrent writes of a critical field from
        devices apart reach the review queue); ValidationError for a bad value."""
        ...

    async def link_duplicate(self, patient_id: str, survivor_id: str, by: str) -> None:
        """Merge the chart `patient_id` into `survivor_id` (both keep every entry, linked);
        ConflictError when either is merged away already."""
        ...

    async def get_chart(self, patient_id: str, by: str) -> Chart:
        """The whole chart; NotFound when unknown here. The read is audit-logged for `by`."""
        ...

    async def chart_history(self, patient_id: str, by: str) -> list[HistoryEntry]:
        """Every change of the chart, oldest first: who, when, which device (audit-logged)."""
        ...

    async def add_attachment(self, patient_id: str, data: bytes, content_type: str, name: str,
                             purpose: str, by: str) -> str:
        """Store a photo or document and reference it on the chart; returns its SHA-256.
        TooLarge over `crdt_model.attachments.MAX_ATTACHMENT_BYTES`, ValidationError for a
        bad name or type."""
        ...

    async def attachment(self, sha256: str, by: str) -> tuple[bytes, str]:
        """An attachment's bytes and content type (fetched from the mesh when a chart names it
        and this device lacks it); NotFound when no device could send it."""
        ...

    async def record_triage(self, patient_id: str, triage: Mapping[str, Any], by: str) -> str:
        """Add a `rules.triage_entry` (vitals, category, danger signs); without an
        `encounter_id` it joins today's visit (checking the patient in). The patient then
        waits for consultation. Returns the entry id."""
        ...

    async def add_allergy(self, patient_id: str, allergy: Mapping[str, Any], by: str) -> str:
        """Add a `rules.allergy_entry`."""
        ...

    async def allergens(self) -> list[tuple[str, str]]:
        """(name, ATC code) of the medicines an allergy can be recorded against, by name."""
        ...

    async def add_note(self, patient_id: str, note: Mapping[str, Any], by: str) -> str:
        """Add a `rules.note_entry`."""
        ...

    async def add_diagnosis(self, patient_id: str, diagnosis: Mapping[str, Any], by: str) -> str:
        """Add a `rules.diagnosis_entry` (ICD-10 code and label) in today's visit."""
        ...

    async def prescribe(self, patient_id: str, prescription: Mapping[str, Any], by: str) -> str:
        """Add a `rules.prescription_entry` in today's visit."""
        ...

    async def order_lab(self, patient_id: str, order: Mapping[str, Any], by: str) -> str:
        """Add a `rules.lab_order_entry` in today's visit."""
        ...

    async def record_lab_result(self, patient_id: str, result: Mapping[str, Any], by: str) -> str:
        """Add a `rules.lab_result_entry` answering an order; a patient waiting at the lab
        goes back to consultation."""
        ...

    async def record_consultation(self, patient_id: str, sections: Mapping[str, Any],
                                  by: str) -> str:
        """Record `crdt_model.consultation.consultation_entry` input in today's visit (a
        follow-up day must be after today); returns the entry id."""
        ...

    async def refer(self, patient_id: str, referral: Mapping[str, Any], by: str) -> str:
        """Record a referral {to, reason} in today's visit; returns its id (the letter's)."""
        ...

    async def void_entry(self, patient_id: str, entry_id: str, reason: str, by: str) -> None:
        """Mark an entry as entered in error (kept and shown struck through)."""
        ...

    # --- the day's queue (queue:<facility>:<day>) ----------------------------------------
    async def queue_today(self, day: str) -> list[QueueEntry]:
        """Every patient of `day`'s queue with their station, oldest arrival first."""
        ...

    async def check_in(self, patient_id: str, day: str, by: str) -> str:
        """Open today's encounter and queue the patient for triage; returns the encounter id."""
        ...

    async def move_patient(self, patient_id: str, day: str, station: str, by: str) -> None:
        """Send a queued patient to another station (or `done`)."""
        ...

    async def follow_ups(self, day: str) -> list[FollowUp]:
        """Patients a consultation asked back on `day`, by family name."""
        ...

    def subscribe(self) -> AsyncIterator[ChangeEvent]:
        """Every document change from this call on, local or synced. The iterator may have an
        `aclose()` coroutine; the UI calls it when the page goes away."""
        ...

    # --- worklists ------------------------------------------------------------------------
    async def pending_lab_orders(self) -> list[PendingLabOrder]:
        """Lab orders without a result, oldest first."""
        ...

    async def pending_prescriptions(self) -> list[PendingPrescription]:
        """Prescriptions not yet fully dispensed, oldest first."""
        ...

    # --- pharmacy stock (facility:<id>) ---------------------------------------------------
    async def stock(self) -> list[StockLevel]:
        """The drug catalogue with current levels, by name."""
        ...

    async def add_drug(self, name: str, unit: str, reorder_level: int, by: str,
                       atc: str = "") -> str:
        """A new drug in the catalogue (level 0), with its WHO ATC code if known; its id."""
        ...

    async def dispense(self, patient_id: str, dispense: Mapping[str, Any], by: str) -> str:
        """Record a `rules.dispense_input` on the chart and −quantity on the stock ledger; when
        nothing is left to dispense, a patient waiting at the pharmacy is done."""
        ...

    async def receive_stock(self, drug_id: str, quantity: int, note: str, by: str,
                            batch: str = "", expires: str = "") -> None:
        """Add +quantity to the ledger (of a batch expiring on `expires`, when given)."""
        ...

    async def expiring_batches(self) -> list[tuple[StockBatch, str, str]]:
        """(batch, drug id, drug name) of the batches in stock that expired or expire within
        90 days, soonest first."""
        ...

    async def stock_card(self, drug_id: str) -> StockCard:
        """A drug's batches (soonest expiry first) and every movement; NotFound if unknown."""
        ...

    async def adjust_stock(self, drug_id: str, quantity: int, reason: str, by: str) -> None:
        """Add a signed correction to the ledger."""
        ...

    async def stock_batches(self) -> dict[str, list[StockBatch]]:
        """Each drug's batches not used up (level, expiry), soonest expiry first, by drug id."""
        ...

    async def count_batches(self, drug_id: str, counts: Mapping[str, int], reason: str,
                            by: str) -> int:
        """A shelf count ({batch: counted}) adjusting each batch that differs; how many did.
        InvalidFields names wrong counts `counts.<batch>`; NotFound(field="drug_id")."""
        ...

    async def count_stock(self, drug_id: str, counted: int, reason: str, by: str) -> None:
        """Set a drug's level to what was counted on the shelf (reconciles a level below zero);
        NotFound(field="drug_id") for a drug not in the catalogue."""
        ...

    # --- review queue, sync, reports ------------------------------------------------------
    async def review_items(self) -> list[ReviewItem]:
        """Unresolved concurrent edits of critical fields."""
        ...

    async def resolve_review(self, item_id: str, value: str, note: str, by: str) -> None:
        """Keep `value` for the field and record who chose it and why."""
        ...

    async def sync_status(self) -> SyncStatus:
        """Peers, relay and pending changes as the sync engine sees them now."""
        ...

    async def visits(self, first_day: str, last_day: str) -> list[VisitFact]:
        """Every visit between two days (inclusive), for reports."""
        ...

    async def period_report(self, first_day: str, last_day: str, by: str) -> PeriodReport:
        """The clinic's report of the days first..last inclusive (what DHIS2 is sent)."""
        ...

    async def last_backup(self) -> BackupInfo | None:
        """This device's last backup, or None (never, or backups are not made here)."""
        ...

    async def back_up(self, folder: str, passphrase: str, by: str) -> BackupInfo:
        """Write an encrypted backup of this device into `folder` (a USB stick, say)."""
        ...

    async def search_other_clinics(self, query: str, by: str) -> OtherClinicsFound:
        """Patients of the other clinics on the central relay, and of its upstream relay's when
        it has one (ClinicMeshError when the relay can't be asked: no relay, or unreachable)."""
        ...

    async def bring_chart_here(self, patient_id: str, by: str) -> bool:
        """Pull another clinic's chart into this clinic through the relay; whether it is on
        this device already (else it is on its way)."""
        ...

    async def link_relay(self, credential: str, by: str) -> str:
        """Link the clinic to the central relay with a credential file's text; the relay's
        URL (every device of the clinic uses it from then on)."""
        ...
