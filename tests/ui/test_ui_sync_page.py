"""The sync page tells the truth on a device alone (issue 13, defect 13): no yellow "Offline"
alarm and no "0 changes not yet shared" when no other device has ever joined, and no
"in 0 seconds"."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import add_user, log_in, set_up

from meshd.clinic_ui.service import NodeClinicService
from ui import i18n


def test_a_moment_ago_is_just_now() -> None:
    with i18n.speaking("en"):
        assert i18n.fmt_ago(0) == "just now"
        assert i18n.fmt_ago(0.4) == "just now"
    with i18n.speaking("fr"):
        assert i18n.fmt_ago(0) == "à l'instant"


@pytest.mark.asyncio
async def test_a_device_alone_is_not_shown_as_offline(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Neema", "pharmacy")
    await log_in(client, "Neema")
    page = await (await client.get("/sync")).text()
    assert "Offline since" not in page and 'class="warning big"' not in page
    assert "0 changes not yet shared" not in page and "in 0 seconds" not in page
    assert "No other device has joined this clinic yet" in page
