"""An admin changes a user's roles and language, disables and enables them, resets a PIN; a
disabled user can log in on no device (the directory they are disabled in syncs)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from ui_helpers import (
    ADMIN_PIN,
    IDLE_LOCK_S,
    LOCKOUT_S,
    PIN,
    PIN_KEY,
    Clock,
    add_user,
    clinic_over_memory,
    log_in,
    post,
    set_up,
)

from meshd.clinic_ui.service import NodeClinicService
from ui.app import create_ui_app


async def log_in_status(client: TestClient, name: str, pin: str = PIN) -> int:
    return (await post(client, "/login", {"name": name, "pin": pin})).status


@pytest.mark.asyncio
async def test_admin_changes_roles_and_language_and_the_user_sees_it(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    nurse = await add_user(clinic, "Wanjiru", "nurse")
    await log_in(client, "Amina", ADMIN_PIN)
    response = await post(client, f"/users/{nurse.id}/change",
                          {"roles": ["nurse", "lab"], "language": "sw", "action": "save"},
                          page="/users")
    assert response.status == 303, await response.text()
    changed = next(u for u in await clinic.users() if u.id == nurse.id)
    assert changed.roles == ("lab", "nurse") and changed.language == "sw"
    refused = await post(client, f"/users/{nurse.id}/change", {"action": "save"}, page="/users")
    assert refused.status == 400
    assert "Choose at least one role." in await refused.text()
    assert next(u for u in await clinic.users() if u.id == nurse.id).roles == ("lab", "nurse")


@pytest.mark.asyncio
async def test_a_disabled_user_is_logged_out_and_can_log_in_on_no_device(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    await set_up(clinic)
    nurse = await add_user(clinic, "Wanjiru", "nurse")
    async with clinic_over_memory(clock) as other_device:
        other_app = create_ui_app(other_device, clock=clock, idle_lock_s=IDLE_LOCK_S,
                                  lockout_s=LOCKOUT_S, pin_key=PIN_KEY)
        async with TestClient(TestServer(other_app, host="127.0.0.1")) as other:
            await sync_directory(clinic, other_device)
            await log_in(other, "Wanjiru")
            await log_in(client, "Amina", ADMIN_PIN)
            response = await post(client, f"/users/{nurse.id}/change", {"action": "disable"},
                                  page="/users")
            assert (response.status, response.headers["Location"]) == (303, "/users")
            assert "Disabled: can" in await (await client.get("/users")).text()
            await sync_directory(clinic, other_device)
            # Already logged in there: the next page ends the session; a new login fails.
            page = await other.get("/queue", allow_redirects=False)
            assert page.status == 303 and page.headers["Location"] == "/login"
            assert await log_in_status(other, "Wanjiru") == 401
            response = await post(client, f"/users/{nurse.id}/change", {"action": "enable"},
                                  page="/users")
            assert response.status == 303
            await sync_directory(clinic, other_device)
            assert await log_in_status(other, "Wanjiru") == 303


@pytest.mark.asyncio
async def test_nobody_disables_themselves_or_the_last_admin(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    admin = await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    page = await (await client.get("/users")).text()
    assert "Disable Amina" not in page  # no button for yourself
    refused = await post(client, f"/users/{admin.id}/change", {"action": "disable"},
                         page="/users")
    assert refused.status == 400 and "disable yourself." in await refused.text()
    refused = await post(client, f"/users/{admin.id}/change",
                         {"roles": ["clinician"], "action": "save"}, page="/users")
    assert refused.status == 400
    assert "another administrator" in await refused.text()
    assert next(u for u in await clinic.users() if u.id == admin.id).roles == ("admin",)


@pytest.mark.asyncio
async def test_a_reset_pin_replaces_the_old_one(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    nurse = await add_user(clinic, "Wanjiru", "nurse")
    await log_in(client, "Amina", ADMIN_PIN)
    response = await post(client, f"/users/{nurse.id}/pin", {"pin": "97531864"}, page="/users")
    assert response.status == 303
    assert (await post(client, "/logout", {}, page="/users")).status == 303
    assert await log_in_status(client, "Wanjiru") == 401
    assert await log_in_status(client, "Wanjiru", "97531864") == 303


async def sync_directory(source: NodeClinicService, target: NodeClinicService) -> None:
    """What sync does with the mesh directory between two devices."""
    doc_id = source.clinic.directory_doc_id
    await target.clinic.docs.apply_remote(doc_id, await source.clinic.docs.export(doc_id))
