"""The relay in-process: credentials, the handshake with a clinic's secret, the registry."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from relay_procs import self_signed_pair

from crdt_model.errors import ConflictError, SyncError, ValidationError
from meshd.relay import credential as cred
from meshd.relay.registry import Registry
from meshd.relay.server import RelayOptions, RelayServer
from meshd.sync import handshake
from meshd.sync.ports import LinkClosed
from meshd.sync.timing import SyncTiming
from meshd.sync.websocket import _MAX_MSG_SIZE, WebSocketLink

MESH = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest_asyncio.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayServer]:
    cert, key = self_signed_pair(tmp_path / "tls")
    server = RelayServer(RelayOptions(tmp_path / "relay", "127.0.0.1", 0, cert, key,
                                      SyncTiming(handshake_timeout_s=5.0)))
    async with server:
        yield server


def _credential(server: RelayServer, name: str) -> cred.Credential:
    clinic = server.registry.add_clinic(name)
    me = server.identity
    return cred.Credential(clinic.id, clinic.name, f"https://127.0.0.1:{server.port}",
                           clinic.secret, me.public_key.hex(), me.cert_pem
                           or server.options.cert.read_text())


async def _handshake(found: cred.Credential, secret: str | None = None) -> None:
    """Dial the clinic's sync space and run the handshake with `secret` (default: its own)."""
    trust = ssl.create_default_context(cadata=found.ca_pem)
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(found.sync_url(MESH), ssl=trust, max_msg_size=_MAX_MSG_SIZE)
        link = WebSocketLink(ws, found.url, lambda _link: None)
        mine = handshake.Credentials(Ed25519PrivateKey.generate(), "probe",
                                     bytes.fromhex(secret or found.secret),
                                     lambda: {found.relay_public})
        try:
            await handshake.dial(link, mine, 5.0)
        finally:
            await link.close()


def test_a_credential_round_trips_and_bad_ones_are_refused_by_field() -> None:
    found = cred.Credential("00" * 8, "Hilltop", "https://relay.example:7443", "11" * 32,
                            "22" * 32, None)
    assert cred.parse(found.to_json()) == found
    assert found.sync_url("m").startswith("wss://relay.example:7443/relay/v1/sync/")
    for broken in ({"v": 2}, {"secret": "short"}, {"url": "http://relay.example"},
                   {"relay_key": None}, {"ca_pem": "not a certificate"}):
        with pytest.raises(ValidationError):
            cred.parse(json.dumps(json.loads(found.to_json()) | broken))
    with pytest.raises(ValidationError):
        cred.parse("{not json")


def test_the_registry_names_each_clinic_once_and_revokes_it(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    first = registry.add_clinic("Hilltop")
    with pytest.raises(ConflictError):
        registry.add_clinic("Hilltop")
    assert registry.bind_mesh(first.id, MESH) and registry.bind_mesh(first.id, MESH)
    assert not registry.bind_mesh(first.id, "another-mesh")
    assert registry.revoke("Hilltop").revoked_ms is not None
    assert "secret" not in registry.clinics()[0].as_status()


@pytest.mark.asyncio
async def test_only_the_clinics_own_secret_completes_the_handshake(relay: RelayServer) -> None:
    hilltop, riverside = _credential(relay, "Hilltop"), _credential(relay, "Riverside")
    await _handshake(hilltop)  # the clinic's directory is not there yet: the secret is enough
    with pytest.raises((SyncError, LinkClosed)):
        await _handshake(hilltop, secret=riverside.secret)
    assert relay.spaces[hilltop.clinic_id].errors()[0] == 1


@pytest.mark.asyncio
async def test_a_revoked_or_unknown_credential_is_refused_before_the_websocket(
    relay: RelayServer
) -> None:
    hilltop = _credential(relay, "Hilltop")
    relay.registry.revoke("Hilltop")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await _handshake(hilltop)
    assert refused.value.status == 403
    async with aiohttp.ClientSession() as client, client.get(
        f"{hilltop.url}/relay/v1/patients?q=amina",
        ssl=ssl.create_default_context(cadata=hilltop.ca_pem),
        headers={"Authorization": f"Bearer {hilltop.bearer}"},
    ) as answer:
        assert answer.status == 401


@pytest.mark.asyncio
async def test_the_operator_page_needs_the_token_and_lists_the_clinics(relay: RelayServer
                                                                      ) -> None:
    hilltop = _credential(relay, "Hilltop")
    relay.registry.audit(hilltop.clinic_id, "pull", {"patient": "p-1", "from": ["Riverside"]})
    token = (relay.options.data_dir / "operator-token").read_text().strip()
    trust = ssl.create_default_context(cadata=hilltop.ca_pem)
    page = f"{hilltop.url}/relay/operator"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(page, ssl=trust) as answer:
            shown = await answer.text()
            assert "Operator token" in shown and "Hilltop" not in shown
        async with client.post(page + "/login", data={"token": "guess"}, ssl=trust) as answer:
            assert answer.status == 403 and "Wrong operator token." in await answer.text()
        async with client.post(page + "/login", data={"token": token}, ssl=trust) as answer:
            assert answer.status == 200  # redirected to the page, now logged in
            shown = await answer.text()
        assert "Hilltop" in shown and "Riverside" in shown and "Cross-clinic access" in shown
        async with client.get(page, ssl=trust, headers={"Accept-Language": "fr"}) as answer:
            shown = await answer.text()
        assert '<html lang="fr">' in shown and "Cliniques" in shown and "Hilltop" in shown
