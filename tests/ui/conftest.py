"""Fixtures of the UI tests: the in-memory clinic, a clock, an aiohttp test client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from ui_helpers import IDLE_LOCK_S, LOCKOUT_S, PIN_KEY, Clock

from ui.app import create_ui_app
from ui.testing import InMemoryClinic


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clinic(clock: Clock) -> InMemoryClinic:
    return InMemoryClinic(clock=clock)


@pytest_asyncio.fixture
async def client(clinic: InMemoryClinic, clock: Clock) -> AsyncIterator[TestClient]:
    app = create_ui_app(clinic, clock=clock, idle_lock_s=IDLE_LOCK_S, lockout_s=LOCKOUT_S,
                        pin_key=PIN_KEY)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client
