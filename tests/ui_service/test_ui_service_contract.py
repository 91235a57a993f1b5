"""The UI's own ClinicService contract (`ui.testing_contract`), run on the real service.

One promise differs on purpose: the contract expects a diagnosis voided as "wrong code" to still
count in the day's visit report; the node leaves voided (entered-in-error) entries out of
reports. Until the contract settles that, this test checks that the run gets through every
earlier step and stops exactly there.
"""

from __future__ import annotations

import pytest
from ui_service_helpers import Clock

from meshd.clinic_ui.service import NodeClinicService
from meshd.service import local_day
from ui.testing_contract import exercise_clinic_day


@pytest.mark.asyncio
async def test_the_real_service_keeps_the_clinic_service_contract(
    service: NodeClinicService, clock: Clock
) -> None:
    today = local_day(clock())
    with pytest.raises(AssertionError) as broken:
        await exercise_clinic_day(service, today)
    assert '"B54" in visit.diagnosis_codes' in str(broken.traceback[-1].statement)
    (visit,) = await service.visits(today, today)
    assert visit.sex == "female" and visit.diagnosis_codes == ()  # B54 was voided
