"""The sync page tells the truth on a device alone (issue 13, defect 13): no yellow "Offline"
alarm and no "0 changes not yet shared" when no other device has ever joined, and no
"in 0 seconds"."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import ADMIN_PIN, add_user, log_in, post, set_up

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


CREDENTIAL = {"v": 1, "clinic_id": "0123456789abcdef", "clinic": "Hilltop",
              "url": "https://relay.example.org:7443", "secret": "ab" * 32,
              "relay_key": "cd" * 32, "ca_pem": None}


@pytest.mark.asyncio
async def test_an_admin_links_the_clinic_to_the_relay_from_the_sync_page(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Neema", "pharmacy")
    await log_in(client, "Amina", ADMIN_PIN)
    refused = await post(client, "/relay-link", {"credential": "not a credential"}, "/sync")
    assert refused.status == 400
    assert "This is not a relay credential" in await refused.text()
    done = await post(client, "/relay-link", {"credential": json.dumps(CREDENTIAL)}, "/sync")
    assert done.status == 200, await done.text()
    assert "Linked to the relay https://relay.example.org:7443" in await done.text()
    audit = await clinic.clinic.store.audit_events(limit=5)
    assert any(row.action == "relay_link" for row in audit)

    await log_in(client, "Neema")  # not an admin: no form, and the route refuses
    assert 'action="/relay-link"' not in await (await client.get("/sync")).text()
    assert (await post(client, "/relay-link", {"credential": "x"}, "/sync")).status == 403
