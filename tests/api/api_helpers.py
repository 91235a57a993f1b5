"""A Clinic and its JSON API on a test server, with a client that sends the API token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from crdt_model.adapter import actor_for
from meshd.clinic import Clinic, genesis_for, project
from meshd.docs import Documents
from meshd.identity import Identity
from meshd.store.base import Store

TOKEN = "test-token-0123456789-abcdefghijklmnop"
DEVICE_ID = "5f0c6a52-8d4b-4c3e-9a43-0b6f7e1d2c3a"
IDENTITY = Identity(
    device_id=DEVICE_ID, device_name="desk-1", mesh_id="0e6a2d8c-3b7f-4f1e-8e3b-6f2a9c4d5e61",
    facility_id="c2b1d3e4-5f60-4718-9a2b-3c4d5e6f7081", facility_name="Test Clinic",
)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PATIENT = {
    "given_name": "Amina", "family_name": "Bello", "sex": "female", "birth_date": "1990-02-03",
}
# Small enough that the oversized-body test stays cheap.
MAX_BODY_BYTES = 64 * 1024


def make_clinic(store: Store) -> Clinic:
    """A Clinic of the test device on `store`."""
    docs = Documents(
        store, actor_for(DEVICE_ID, "system"), genesis=genesis_for(DEVICE_ID), project=project
    )
    return Clinic(docs, store, IDENTITY)


@dataclass
class Api:
    """The test client with the token, the store behind it and the Clinic."""

    client: TestClient[Any, Any]
    store: Any
    clinic: Clinic

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        """GET with the token; (status, JSON body)."""
        async with self.client.get(path, headers=AUTH, params=params) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST JSON (or `raw` bytes) with the token; (status, JSON body)."""
        sent = AUTH if headers is None else headers
        if raw is not None:
            async with self.client.post(path, data=raw, headers=sent) as response:
                return response.status, await response.json()
        async with self.client.post(path, json=body, headers=sent) as response:
            return response.status, await response.json()

    async def register(self, **changes: Any) -> str:
        """Register a patient (PATIENT with `changes`); returns the id."""
        status, body = await self.post("/api/v1/patients", {**PATIENT, **changes})
        assert status == 201, body
        return str(body["id"])

    async def all_heads(self) -> dict[str, tuple[bytes, ...]]:
        """Heads of every stored document (to prove a rejected request changed nothing)."""
        return dict(await self.store.heads())
