"""The UI's own ClinicService contract (`ui.testing_contract`), run on the real service."""

from __future__ import annotations

import pytest
from clinic_contract import exercise_clinic_day
from ui_service_helpers import Clock

from meshd.clinic import local_day
from meshd.clinic_ui.service import NodeClinicService


@pytest.mark.asyncio
async def test_the_real_service_keeps_the_clinic_service_contract(
    service: NodeClinicService, clock: Clock
) -> None:
    await exercise_clinic_day(service, local_day(clock()))
