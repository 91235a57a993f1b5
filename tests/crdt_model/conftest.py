"""Shared fixtures for the pure clinical model: authors on two devices, a registered chart."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from crdt_fixtures import (
    DEVICE_A,
    DEVICE_B,
    PATIENT,
    REGISTRATION,
    T0_MS,
    TODAY,
    USER_DOCTOR,
    USER_NURSE,
)

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.context import Author


@pytest.fixture
def nurse_a() -> Author:
    """A nurse writing on device A."""
    return Author(DEVICE_A, USER_NURSE, T0_MS)


@pytest.fixture
def doctor_b() -> Author:
    """A clinician writing on device B."""
    return Author(DEVICE_B, USER_DOCTOR, T0_MS + 1_000)


@pytest.fixture
def registered(nurse_a: Author) -> Doc:
    """A freshly registered chart on device A."""
    return chart.register_patient(PATIENT, REGISTRATION, nurse_a, TODAY)


@pytest.fixture
def unchanged() -> Callable[[Doc], Callable[[], None]]:
    """Snapshot a doc's heads and bytes; the returned check asserts nothing changed."""

    def snap(doc: Doc) -> Callable[[], None]:
        heads, saved = doc.heads(), doc.to_dict()

        def check() -> None:
            assert doc.heads() == heads
            assert doc.to_dict() == saved

        return check

    return snap
