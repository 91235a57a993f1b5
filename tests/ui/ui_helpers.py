"""Shared helpers of the UI tests: a settable clock, the real clinic over MemoryStore, CSRF
extraction, logging in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

from aiohttp.test_utils import TestClient
from ui_service.ui_service_helpers import make_service

from meshd.clinic import local_day
from meshd.clinic_ui.service import NodeClinicService
from meshd.store.memory import MemoryStore
from ui.auth import hash_pin
from ui.records import User
from ui.service import ClinicService

# A fixed instant (2026-03-10 09:00 UTC) so dates in pages are predictable.
START_S = 1_773_133_200.0
IDLE_LOCK_S = 600.0
LOCKOUT_S = 300.0
PIN_KEY = bytes(range(32))  # what the node derives from its mesh key
ADMIN_PIN = "246813"
PIN = "135702"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: float = START_S

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    def ms(self) -> int:
        """The same instant in epoch milliseconds (the clinic core's clock)."""
        return int(self.now * 1000)

    def today(self) -> date:
        """The device's local day now."""
        return date.fromisoformat(local_day(self.ms()))


@asynccontextmanager
async def clinic_over_memory(clock: Clock) -> AsyncIterator[NodeClinicService]:
    """The node's UI adapter on the real clinic core over a started MemoryStore."""
    store = MemoryStore()
    await store.start()
    try:
        yield make_service(store, clock.ms, clock.today)
    finally:
        await store.stop()


async def csrf_of(client: TestClient, path: str) -> str:
    """The CSRF token printed in the forms of `path`."""
    response = await client.get(path)
    found = _CSRF.search(await response.text())
    assert found, f"no CSRF token on {path} ({response.status})"
    return found.group(1)


async def post(client: TestClient, path: str, data: dict[str, object], page: str | None = None,
               **kwargs: object):  # type: ignore[no-untyped-def]
    """POST a form with the CSRF token taken from `page` (default: the same path)."""
    token = await csrf_of(client, page or path)
    return await client.post(path, data={**data, "csrf": token}, allow_redirects=False,
                             **kwargs)  # type: ignore[arg-type]


async def set_up(clinic: ClinicService) -> User:
    """A facility with its admin, as after first run."""
    return await clinic.set_up_facility("Kibera Health Post", "Amina", hash_pin(ADMIN_PIN), "en")


async def add_user(clinic: ClinicService, name: str, *roles: str,
                   language: str | None = None) -> User:
    """A user with PIN `PIN`."""
    return await clinic.add_user(name, tuple(roles), hash_pin(PIN), language, by="")


async def log_in(client: TestClient, name: str, pin: str = PIN) -> None:
    """Log in through the form; asserts it worked."""
    response = await post(client, "/login", {"name": name, "pin": pin})
    assert response.status == 303, await response.text()
