"""Fixtures of the UI tests: the node's real UI adapter and clinic core over MemoryStore (the
fake is the store, never the clinic), a clock shared by the UI and the core, a test client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from ui_helpers import IDLE_LOCK_S, LOCKOUT_S, PIN_KEY, Clock, clinic_over_memory

from meshd.clinic_ui.service import NodeClinicService
from ui.app import create_ui_app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def clinic(clock: Clock) -> AsyncIterator[NodeClinicService]:
    async with clinic_over_memory(clock) as service:
        yield service


@pytest_asyncio.fixture
async def client(clinic: NodeClinicService, clock: Clock) -> AsyncIterator[TestClient]:
    app = create_ui_app(clinic, clock=clock, idle_lock_s=IDLE_LOCK_S, lockout_s=LOCKOUT_S,
                        pin_key=PIN_KEY)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client
