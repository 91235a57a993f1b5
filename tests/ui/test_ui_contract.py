"""The in-memory fake keeps the ClinicService contract the UI relies on (the daemon's tests can
run the same `exercise_clinic_day` on the real node)."""

from __future__ import annotations

import pytest
from ui_helpers import Clock

from ui.testing import InMemoryClinic
from ui.testing_contract import exercise_clinic_day


@pytest.mark.asyncio
async def test_the_fake_keeps_the_clinic_service_contract(clock: Clock) -> None:
    await exercise_clinic_day(InMemoryClinic(clock=clock), "2026-03-10")
