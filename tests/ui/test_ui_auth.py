"""Login with name + PIN, lock-out, idle lock, CSRF, session cookie, roles."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import (
    ADMIN_PIN,
    IDLE_LOCK_S,
    LOCKOUT_S,
    PIN,
    PIN_KEY,
    Clock,
    add_user,
    log_in,
    post,
    set_up,
)

from meshd.clinic_ui.service import NodeClinicService
from ui.auth import check_pin, hash_pin, is_keyed


def test_pin_hash_is_salted_scrypt_and_checks() -> None:
    first, second = hash_pin("1234"), hash_pin("1234")
    assert first.startswith("scrypt$") and first != second and "1234" not in first
    assert check_pin("1234", first) and check_pin("1234", second)
    assert not check_pin("4321", first)
    assert not check_pin("1234", "garbage")


@pytest.mark.asyncio
async def test_setup_is_offered_only_on_first_run(client: TestClient,
                                                  clinic: NodeClinicService) -> None:
    await set_up(clinic)
    response = await client.get("/setup", allow_redirects=False)
    assert response.headers["Location"] == "/login"


@pytest.mark.asyncio
async def test_setup_rejects_mismatched_pins_and_stores_nothing(
    client: TestClient, clinic: NodeClinicService
) -> None:
    response = await post(client, "/setup", {
        "facility_name": "Kibera", "name": "Amina", "pin": "246813", "pin_again": "246814"})
    assert response.status == 400
    assert "The two PINs are not the same." in await response.text()
    assert await clinic.facility() is None and not await clinic.users()


@pytest.mark.asyncio
async def test_pages_need_login(client: TestClient, clinic: NodeClinicService) -> None:
    await set_up(clinic)
    response = await client.get("/queue", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login?next=/queue"


@pytest.mark.asyncio
async def test_wrong_pin_is_refused(client: TestClient, clinic: NodeClinicService) -> None:
    await set_up(clinic)
    response = await post(client, "/login", {"name": "Amina", "pin": "000000"})
    assert response.status == 401
    assert "This name and PIN do not match." in await response.text()
    assert (await client.get("/queue", allow_redirects=False)).status == 303


@pytest.mark.asyncio
async def test_five_wrong_pins_lock_the_name_for_a_while(
    client: TestClient, clinic: NodeClinicService, clock: Clock
) -> None:
    await set_up(clinic)
    for _ in range(5):
        response = await post(client, "/login", {"name": "Amina", "pin": "000000"})
        assert response.status == 401
    response = await post(client, "/login", {"name": "amina", "pin": ADMIN_PIN})
    assert response.status == 429
    assert "Too many wrong PINs" in await response.text()
    clock.advance(LOCKOUT_S + 1)
    response = await post(client, "/login", {"name": "Amina", "pin": ADMIN_PIN})
    assert response.status == 303


@pytest.mark.asyncio
async def test_session_cookie_is_httponly_samesite_strict_and_rotated_on_login(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    first = await client.get("/login")
    anonymous = first.cookies["cm_session"]
    assert anonymous["httponly"] and anonymous["samesite"] == "Strict"
    token = anonymous.value
    response = await post(client, "/login", {"name": "Amina", "pin": ADMIN_PIN})
    cookie = response.cookies["cm_session"]
    assert cookie.value != token and cookie["httponly"] and cookie["samesite"] == "Strict"
    for header in ("Content-Security-Policy", "X-Frame-Options"):
        assert header in response.headers


@pytest.mark.asyncio
async def test_session_is_bound_to_the_browser(client: TestClient,
                                               clinic: NodeClinicService) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    assert (await client.get("/queue", allow_redirects=False)).status == 200
    other = await client.get("/queue", allow_redirects=False,
                             headers={"User-Agent": "another browser"})
    assert other.status == 303 and other.headers["Location"].startswith("/login")


@pytest.mark.asyncio
async def test_post_without_csrf_token_is_refused_and_stores_nothing(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    form = {"given_name": "Baraka", "family_name": "Otieno", "sex": "male", "age_years": "30"}
    response = await client.post("/patients/new", data=form, allow_redirects=False)
    assert response.status == 403
    response = await client.post("/patients/new", data={**form, "csrf": "forged"},
                                 allow_redirects=False)
    assert response.status == 403
    assert not await clinic.search_patients("Baraka")


@pytest.mark.asyncio
async def test_idle_session_locks_and_the_pin_unlocks_it(
    client: TestClient, clinic: NodeClinicService, clock: Clock
) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    clock.advance(IDLE_LOCK_S - 5)
    assert (await client.get("/queue", allow_redirects=False)).status == 200
    clock.advance(IDLE_LOCK_S + 1)
    response = await client.get("/queue", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/lock"
    live = await client.get("/queue/table", headers={"X-Live": "1"}, allow_redirects=False)
    assert live.status == 401
    response = await post(client, "/lock", {"pin": "000000"})
    assert response.status == 401
    response = await post(client, "/lock", {"pin": ADMIN_PIN})
    assert response.status == 303
    assert (await client.get("/queue", allow_redirects=False)).status == 200


@pytest.mark.asyncio
async def test_live_refreshes_do_not_keep_a_session_awake(
    client: TestClient, clinic: NodeClinicService, clock: Clock
) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    for _ in range(3):
        clock.advance(IDLE_LOCK_S / 2)
        await client.get("/queue/table", headers={"X-Live": "1"})
    response = await client.get("/queue", allow_redirects=False)
    assert response.headers["Location"] == "/lock"


@pytest.mark.asyncio
async def test_logout_ends_the_session(client: TestClient, clinic: NodeClinicService) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    response = await post(client, "/logout", {}, page="/queue")
    assert response.headers["Location"] == "/login"
    assert (await client.get("/queue", allow_redirects=False)).status == 303


@pytest.mark.asyncio
@pytest.mark.parametrize(("roles", "page", "allowed"), [
    (("registration",), "/patients", True),
    (("registration",), "/pharmacy", False),
    (("registration",), "/users", False),
    (("nurse",), "/lab", False),
    (("lab",), "/lab", True),
    (("lab",), "/reports", False),
    (("pharmacy",), "/pharmacy", True),
    (("pharmacy",), "/patients", False),
    (("clinician",), "/review", True),
    (("clinician",), "/users", False),
    (("admin",), "/users", True),
])
async def test_roles_decide_which_pages_open(
    client: TestClient, clinic: NodeClinicService, roles: tuple[str, ...], page: str, allowed: bool
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Juma", *roles)
    await log_in(client, "Juma", PIN)
    response = await client.get(page, allow_redirects=False)
    assert response.status == (200 if allowed else 403)


@pytest.mark.asyncio
async def test_a_receptionist_cannot_post_a_prescription(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Juma", "registration")
    patient_id = await clinic.register_patient(
        {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
         "estimated_age_years": 30}, "2026-03-10", by="")
    await log_in(client, "Juma", PIN)
    response = await post(client, f"/patients/{patient_id}/prescriptions", {
        "drug": "Paracetamol", "dose": "500", "dose_unit": "mg", "route": "oral",
        "frequency": "3x/day", "duration_days": "3"}, page="/patients")
    assert response.status == 403
    assert not (await clinic.get_chart(patient_id)).of_kind("prescription")


@pytest.mark.asyncio
async def test_admin_adds_a_user_who_can_then_log_in(client: TestClient,
                                                     clinic: NodeClinicService) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    response = await post(client, "/users", {"name": "Wanjiru", "roles": "nurse", "pin": "987654",
                                             "language": "sw"})
    assert response.status == 303
    wanjiru = next(u for u in await clinic.users() if u.name == "Wanjiru")
    assert wanjiru.roles == ("nurse",) and wanjiru.language == "sw"
    assert "987654" not in wanjiru.pin_hash
    await post(client, "/logout", {}, page="/queue")
    await log_in(client, "Wanjiru", "987654")
    page = await (await client.get("/queue")).text()
    assert '<html lang="sw">' in page


@pytest.mark.asyncio
async def test_admin_gives_a_forgetful_user_a_new_pin(client: TestClient,
                                                      clinic: NodeClinicService) -> None:
    await set_up(clinic)
    zawadi = await add_user(clinic, "Zawadi", "nurse")
    await log_in(client, "Amina", ADMIN_PIN)
    response = await post(client, f"/users/{zawadi.id}/pin", {"pin": "12"}, page="/users")
    assert response.status == 400 and "6 to 8 digits" in await response.text()
    response = await post(client, f"/users/{zawadi.id}/pin", {"pin": "864208"}, page="/users")
    assert response.status == 303
    await post(client, "/logout", {}, page="/queue")
    await log_in(client, "Zawadi", "864208")


@pytest.mark.asyncio
async def test_a_four_digit_pin_from_before_logs_in_once_then_must_be_replaced(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    await clinic.add_user("Baraka", ("nurse",), hash_pin("4321"), None, by="")
    await log_in(client, "Baraka", "4321")
    assert (await client.get("/queue", allow_redirects=False)).headers["Location"] == "/pin"
    response = await post(client, "/pin", {"pin": "5555", "pin_again": "5555"}, page="/pin")
    assert response.status == 400 and "6 to 8 digits" in await response.text()
    response = await post(client, "/pin", {"pin": "555123", "pin_again": "555123"}, page="/pin")
    assert response.status == 303
    assert (await client.get("/queue", allow_redirects=False)).status == 200
    await post(client, "/logout", {}, page="/queue")
    await log_in(client, "Baraka", "555123")
    assert (await client.get("/queue", allow_redirects=False)).status == 200


@pytest.mark.asyncio
async def test_an_unkeyed_pin_hash_is_keyed_at_the_next_login(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    old = await add_user(clinic, "Kato", "nurse")
    assert not is_keyed(old.pin_hash)
    await log_in(client, "Kato")
    kato = next(u for u in await clinic.users() if u.name == "Kato")
    assert is_keyed(kato.pin_hash) and check_pin(PIN, kato.pin_hash, PIN_KEY)
    assert not check_pin(PIN, kato.pin_hash)
