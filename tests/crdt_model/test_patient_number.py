"""Short patient numbers: format, check character, device codes that never share a start."""

from __future__ import annotations

import uuid

import pytest

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.context import Author
from crdt_model.errors import ValidationError
from crdt_model.patient_number import ALPHABET, device_code, parse, patient_number

NURSE = Author("dev-a", "nurse-1", 1_764_000_000_000)
PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}


def test_a_number_reads_back_as_its_code_and_counter() -> None:
    number = patient_number("K7QD", 42)
    assert number.startswith("K7QD-0042-")
    assert parse(number) == ("K7QD", 42)
    assert parse(number.lower()) == ("K7QD", 42)
    assert parse(patient_number("K7QD", 12345)) == ("K7QD", 12345)


def test_any_one_mistyped_character_is_caught_by_the_check() -> None:
    number = patient_number("K7QD", 42)
    for position, char in enumerate(number):
        if char == "-":
            continue
        for other in ALPHABET if not char.isdigit() or position > 9 else "0123456789":
            if other != char:
                typo = number[:position] + other + number[position + 1:]
                assert parse(typo) is None, typo


def test_swapping_two_neighbours_is_caught() -> None:
    number = patient_number("K7QD", 1234)
    code, digits = number[:4], number[5:9]
    swapped = f"{code}-{digits[1]}{digits[0]}{digits[2:]}-{number[-1]}"
    assert parse(swapped) is None


def test_device_codes_are_four_characters_and_longer_only_to_stay_apart() -> None:
    devices = [str(uuid.UUID(int=i)) for i in range(300)]
    alone = {d: device_code(d) for d in devices}
    assert all(len(c) == 4 for c in alone.values())
    # Two devices whose hashes share their first four characters: each goes one longer.
    by_start: dict[str, str] = {}
    for i in range(20_000):
        device = f"device-{i}"
        start = device_code(device)
        if start in by_start:
            pair = [by_start[start], device]
            break
        by_start[start] = device
    codes = [device_code(d, pair) for d in pair]
    assert codes[0] != codes[1] and all(len(c) > 4 for c in codes)
    assert codes[0][:4] == codes[1][:4] == device_code(pair[0])
    assert device_code(pair[0], [pair[0]]) == device_code(pair[0])


def test_the_number_is_written_once_in_the_chart_and_never_changed_by_a_peer() -> None:
    number = patient_number("K7QD", 7)
    doc = chart.register_patient(str(uuid.uuid4()), PATIENT, NURSE, "2026-11-29", number)
    assert chart.chart_view(doc)["number"] == number
    assert chart.patient_row(doc)["number"] == number
    changed = Doc.load(doc.save(), NURSE.actor)
    changed.change(lambda tx: tx.put((), "number", patient_number("K7QD", 8)))
    doc_id = chart.chart_view(doc)["doc_id"]
    with pytest.raises(RefusedChange, match="patient number"):
        check_arrival(doc_id, doc, changed)


def test_a_malformed_number_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        chart.register_patient(str(uuid.uuid4()), PATIENT, NURSE, "2026-11-29", "K7QD-0042-0")
    assert caught.value.field == "number"
