"""The clinic's application layer: the one core behind every door (see docs/ARCHITECTURE.md §2).

The JSON API (`meshd.api`) and the web UI's adapter (`meshd.clinic_ui`) parse a request, call
one method of `Clinic` and render its answer; nothing clinical is decided there. This package is
the only clinical code that touches `Documents` and the store: it validates (through the pure
`crdt_model` rules), applies the workflow rules, names every audit action (`actions`) and keeps
the table of who may do what (`crdt_model.access`). Split by what a clinic does:

    base.py          Caller, the clock, authors, audit rows, document ids, user names
    actions.py       the audit action names, one set for every door
    projections.py   genesis of derived documents and the read-model rows of each document
    registration.py  registering and finding patients, reading charts, demographics, duplicates
    clinical.py      encounters, triage, allergies, notes, diagnoses, voids, corrections, review
    laboratory.py    lab orders, results and the lab worklist
    pharmacy.py      prescriptions, dispensing, the drug catalogue and the stock ledger
    flow.py          the day's queue: check-in, moves, the station a patient goes to next
    administration.py facility set-up and users of the mesh directory (roles, language, disabled)
    numbering.py     this device's series of short patient numbers
    reports.py       the report of a period: the numbers the DHIS2 export sends
    attachments.py   photos and documents: blobs in the store, references on the chart
    consultation.py  consultation sections, follow-up days, referrals
    clinic.py        Clinic, all of the above
"""

from meshd.clinic.base import Caller, new_id, now_ms
from meshd.clinic.clinic import Clinic
from meshd.clinic.projections import genesis_for, local_day, project

__all__ = ["Caller", "Clinic", "genesis_for", "local_day", "new_id", "now_ms", "project"]
