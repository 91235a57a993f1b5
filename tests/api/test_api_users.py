"""Users through the API: list without PIN hashes, change roles and language, disable; a
disabled user may do nothing through any door, and the last admin stays."""

from __future__ import annotations

import pytest
from api_helpers import PATIENT, Api

from crdt_model.errors import Forbidden
from meshd.clinic import Caller

DEVICE = Caller("api", "test")


async def two_users(api: Api) -> tuple[str, str]:
    admin = await api.clinic.set_up_facility("Clinic", {"name": "Amina", "pin_hash": "x$1"}, "t")
    nurse = await api.clinic.add_user(
        {"name": "Wanjiru", "roles": ["nurse"], "pin_hash": "x$2"}, DEVICE)
    return admin, nurse


@pytest.mark.asyncio
async def test_an_admin_changes_roles_and_language_and_disables_a_user(api: Api) -> None:
    admin, nurse = await two_users(api)
    status, body = await api.get("/api/v1/users")
    assert status == 200
    assert body["users"][nurse] == {"name": "Wanjiru", "roles": ["nurse"], "language": None,
                                    "disabled": False}
    assert "pin_hash" not in str(body)
    status, _ = await api.post(f"/api/v1/users/{nurse}", {"roles": ["lab", "nurse"],
                                                           "language": "fr"})
    assert status == 200
    await api.clinic.register_patient(PATIENT, Caller(nurse, "ui"))  # a nurse may register
    status, _ = await api.post(f"/api/v1/users/{nurse}", {"disabled": True})
    assert status == 200
    _, body = await api.get("/api/v1/users")
    assert body["users"][nurse]["disabled"] is True
    assert body["users"][nurse]["roles"] == ["lab", "nurse"]
    assert body["users"][nurse]["language"] == "fr"
    with pytest.raises(Forbidden, match="disabled"):
        await api.clinic.register_patient(PATIENT, Caller(nurse, "ui"))
    changes = [e for e in await api.store.audit_events() if e.action == "change_user"]
    assert len(changes) == 2 and changes[0].detail.startswith(nurse)
    status, _ = await api.post(f"/api/v1/users/{nurse}", {"disabled": False})
    assert status == 200
    await api.clinic.register_patient(PATIENT, Caller(nurse, "ui"))
    assert admin


@pytest.mark.asyncio
async def test_bad_changes_are_refused_and_change_nothing(api: Api) -> None:
    admin, nurse = await two_users(api)
    before = await api.get("/api/v1/users")
    cases = [
        (f"/api/v1/users/{nurse}", {"roles": ["janitor"]}, 400, "roles"),
        (f"/api/v1/users/{admin}", {"roles": 7}, 400, "roles"),
        (f"/api/v1/users/{admin}", {"roles": "nurse"}, 400, "roles"),
        (f"/api/v1/users/{nurse}", {"colour": "red"}, 400, "colour"),
        (f"/api/v1/users/{nurse}", {"disabled": "yes"}, 400, "disabled"),
        (f"/api/v1/users/{nurse}", {}, 400, "body"),
        ("/api/v1/users/nobody", {"disabled": True}, 404, "user_id"),
        (f"/api/v1/users/{admin}", {"disabled": True}, 409, "disabled"),
        (f"/api/v1/users/{admin}", {"roles": ["clinician"]}, 409, "roles"),
    ]
    for path, body, status, field in cases:
        got, error = await api.post(path, body)
        assert (got, error.get("field")) == (status, field), (body, error)
    assert await api.get("/api/v1/users") == before
    # A nurse may not change anyone's roles, but may change their own language.
    with pytest.raises(Forbidden):
        await api.clinic.change_user(nurse, {"roles": ["admin"]}, Caller(nurse, "ui"))
    await api.clinic.change_user(nurse, {"language": "sw"}, Caller(nurse, "ui"))
