"""A peer's changes are refused when the document they produce breaks its kind's rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from crdt_model import chart, directory
from crdt_model.adapter import Doc, Tx
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.context import Author
from crdt_model.ids import chart_id, directory_id

NURSE = Author("aa" * 8, "01" * 8, 1_763_800_000_000)
INTRUDER = Author("ee" * 8, "0e" * 8, 1_763_800_100_000)
PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}
PID = str(uuid.UUID(int=42))
DOC_ID = chart_id(PID)


def _chart() -> Doc:
    doc = chart.register_patient(PID, PATIENT, NURSE, "2026-11-29")
    chart.record_allergy(doc, {"substance": "Penicillin", "severity": "severe"}, NURSE, "allergy1")
    chart.open_encounter(doc, {"chief_complaint": "fever"}, NURSE, "visit1")
    return doc


def _raw(doc: Doc, build: Callable[[Tx], None]) -> Doc:
    """The copy an attacker would send: `doc` plus one raw change."""
    changed = doc.fork(INTRUDER.actor)
    changed.change(build)
    return changed


def test_an_ordinary_clinical_day_is_accepted() -> None:
    before = _chart()
    after = before.fork(NURSE.actor)
    chart.add_note(after, {"text": "Tolerating fluids."}, NURSE, "note1")
    chart.close_encounter(after, "visit1", NURSE)
    chart.update_demographics(after, {"phone": "+254 700 000000"}, NURSE, "w1", "2026-11-29")
    check_arrival(DOC_ID, before, after)
    check_arrival(DOC_ID, None, after)


@pytest.mark.parametrize(("attack", "reason"), [
    (lambda tx: tx.delete(("entries",), "allergy1"), "deleted"),
    (lambda tx: tx.put(("entries", "allergy1"), "severity", "mild"), "changed in place"),
    (lambda tx: tx.put(("demographics",), "given_name", "Fatuma"), "without a recorded write"),
    (lambda tx: tx.delete(("demographic_writes",), "registration.given_name"), "deleted"),
    (lambda tx: tx.put((), "entries", {}), "deleted"),
    (lambda tx: tx.put((), "type", "facility"), "does not say"),
    (lambda tx: tx.put(("entries",), "x1", "tolerates penicillin"), "not a record"),
    (lambda tx: tx.put(("entries",), "x2", {"text": "no kind"}), "no kind"),
])
def test_a_change_that_breaks_the_chart_rules_is_refused(
    attack: Callable[[Tx], None], reason: str
) -> None:
    before = _chart()
    with pytest.raises(RefusedChange, match=reason):
        check_arrival(DOC_ID, before, _raw(before, attack))


def _roster() -> Doc:
    doc = directory.directory_genesis("mesh1", NURSE)
    directory.add_device(doc, "dev-a", {"name": "Desk", "public_key": "ab" * 32}, NURSE)
    directory.add_device(doc, "dev-b", {"name": "Tablet", "public_key": "cd" * 32}, NURSE)
    directory.revoke_device(doc, "dev-b", NURSE)
    return doc


@pytest.mark.parametrize(("attack", "reason"), [
    (lambda tx: tx.put(("devices", "dev-b"), "revoked_at", None), "undone"),
    (lambda tx: tx.put(("devices", "dev-a"), "public_key", "ef" * 32), "replaced"),
    (lambda tx: tx.delete(("devices",), "dev-a"), "removed"),
])
def test_a_roster_change_that_undoes_a_revocation_or_swaps_a_key_is_refused(
    attack: Callable[[Tx], None], reason: str
) -> None:
    before = _roster()
    with pytest.raises(RefusedChange, match=reason):
        check_arrival(directory_id("mesh1"), before, _raw(before, attack))
