"""Fixtures: the JSON API on a MemoryStore and on a real SqlCipherStore."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from api_helpers import MAX_BODY_BYTES, TOKEN, Api, make_clinic

from meshd.api import create_api_app
from meshd.api.middleware import bearer_token_auth
from meshd.store.base import Store
from meshd.store.memory import MemoryStore
from meshd.store.sqlcipher import SqlCipherStore


def _store(kind: str, tmp_path: Path) -> Store:
    if kind == "memory":
        return MemoryStore()
    return SqlCipherStore(tmp_path / "store.db", os.urandom(32))


@pytest_asyncio.fixture(params=["memory", "sqlcipher"])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The API of a fresh device, on either store."""
    store = _store(request.param, tmp_path)
    async with store:  # type: ignore[attr-defined]
        clinic = make_clinic(store)
        app = create_api_app(clinic, bearer_token_auth(TOKEN), max_body_bytes=MAX_BODY_BYTES)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Api(client, store, clinic)


@pytest_asyncio.fixture
async def memory_api() -> AsyncIterator[Api]:
    """The API on a MemoryStore only (for the slower, store-independent tests)."""
    async with MemoryStore() as store:
        clinic = make_clinic(store)
        app = create_api_app(clinic, bearer_token_auth(TOKEN), max_body_bytes=MAX_BODY_BYTES)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Api(client, store, clinic)
