"""Constants shared by the crdt_model tests (a uniquely named module, importable from tests)."""

from __future__ import annotations

from typing import Any

TODAY = "2026-11-22"
T0_MS = 1_795_000_000_000
PATIENT = "6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1c7e63"
OTHER_PATIENT = "0b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
DEVICE_A = "a1a1a1a1a1a1a1a1"
DEVICE_B = "b2b2b2b2b2b2b2b2"
DEVICE_C = "c3c3c3c3c3c3c3c3"
USER_NURSE = "0e0e0e0e0e0e0e0e"
USER_DOCTOR = "0d0d0d0d0d0d0d0d"

REGISTRATION: dict[str, Any] = {
    "given_name": "Amina", "family_name": "Mwangi", "sex": "female",
    "birth_date": "1990-04-12", "phone": "+254 712 345678", "village": "Kibera",
}
