"""Key epochs without sockets: sealing, the pairing payloads, and the handshake's keyring."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crdt_model.errors import ClinicMeshError, SyncError
from meshd.membership.keyring import keys_sealed_to
from meshd.membership.sealing import (
    SealError,
    open_mesh_key,
    seal_context,
    seal_mesh_key,
    x25519_private_from_ed25519,
    x25519_public_from_ed25519,
)
from meshd.membership.secret import (
    JoinerIdentity,
    MeshSecret,
    PairingPayloadError,
    decode_joiner,
    decode_secret,
)
from meshd.sync import handshake
from meshd.sync.fakes import MemoryNetwork
from meshd.sync.handshake import Credentials, SecureChannel
from meshd.sync.ports import Link

MESH = "5b8e6a52-8f7e-4d0c-9d49-0c7a2f3f9e01"
OLD, NEW = b"o" * 32, b"n" * 32


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_the_x25519_key_derived_from_an_identity_matches_on_both_sides() -> None:
    for _ in range(10):
        key = Ed25519PrivateKey.generate()
        derived = x25519_private_from_ed25519(key).public_key()
        assert x25519_public_from_ed25519(_public(key)) == derived.public_bytes(
            Encoding.Raw, PublicFormat.Raw)


def test_a_sealed_key_opens_only_for_its_device_and_context() -> None:
    device, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    context = seal_context(MESH, 2, "rotator", "device")
    sealed = seal_mesh_key(NEW, _public(device), context)
    assert open_mesh_key(sealed, device, context) == NEW
    with pytest.raises(SealError):
        open_mesh_key(sealed, other, context)
    with pytest.raises(SealError):  # the same blob moved to another epoch
        open_mesh_key(sealed, device, seal_context(MESH, 3, "rotator", "device"))
    with pytest.raises(SealError):
        open_mesh_key(sealed[:-1] + bytes([sealed[-1] ^ 1]), device, context)


def _secret() -> MeshSecret:
    return MeshSecret(MESH, MESH, "Clinic", {0: OLD, 1: NEW}, MESH, "reception", bytes(32),
                      b"automerge bytes")


def test_the_mesh_secret_and_the_joiner_identity_round_trip() -> None:
    assert decode_secret(_secret().encode()) == _secret()
    joiner = JoinerIdentity(MESH, "tablet", bytes(range(32)))
    assert decode_joiner(joiner.encode()) == joiner


@pytest.mark.parametrize("change", [
    {"v": 2}, {"format": "clinicmesh-joiner"}, {"keys": []}, {"keys": [[0, b"short"]]},
    {"keys": [[-1, OLD]]}, {"mesh": "not a uuid"}, {"inviter": [MESH, "", bytes(32)]},
    {"directory": b""}, {"facility": [MESH]},
])
def test_a_damaged_or_foreign_mesh_secret_is_refused(change: dict[str, object]) -> None:
    record = msgpack.unpackb(_secret().encode())
    record.update(change)
    with pytest.raises(PairingPayloadError):
        decode_secret(msgpack.packb(record))
    with pytest.raises(PairingPayloadError):
        decode_secret(b"\xc1 not msgpack")


def _credentials(key: Ed25519PrivateKey, keys: list[tuple[int, bytes]],
                 roster: set[bytes]) -> Credentials:
    return Credentials(key, "dev", keys[0][1], lambda: roster, keyring=lambda: keys)


async def _handshake(dialer: Credentials, listener: Credentials) -> tuple[
    SecureChannel | BaseException, SecureChannel | BaseException
]:
    network = MemoryNetwork()
    accepted: asyncio.Queue[SecureChannel | BaseException] = asyncio.Queue()

    async def on_link(link: Link) -> None:
        try:
            accepted.put_nowait(await handshake.accept(link, listener, 2.0))
        except SyncError as exc:
            accepted.put_nowait(exc)
            await link.close()

    server = network.transport("listener")
    await server.start(on_link)
    client = network.transport("dialer")
    try:
        dialed: SecureChannel | BaseException = await handshake.dial(
            await client.connect("listener"), dialer, 2.0)
    except (ClinicMeshError, TimeoutError) as exc:  # LinkClosed when refused
        dialed = exc
    result = await asyncio.wait_for(accepted.get(), 2.0)
    await client.stop()
    await server.stop()
    return dialed, result


@pytest.mark.asyncio
async def test_a_rostered_device_on_an_older_key_gets_in_marked_outdated() -> None:
    a, c = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    roster = {_public(a), _public(c)}
    dialed, accepted = await _handshake(
        _credentials(c, [(0, OLD)], roster), _credentials(a, [(1, NEW), (0, OLD)], roster))
    assert isinstance(dialed, SecureChannel) and isinstance(accepted, SecureChannel)
    assert accepted.key_epoch == 0 and accepted.outdated_key
    dialed, accepted = await _handshake(
        _credentials(c, [(1, NEW), (0, OLD)], roster), _credentials(a, [(1, NEW), (0, OLD)],
                                                                     roster))
    assert isinstance(accepted, SecureChannel) and not accepted.outdated_key


@pytest.mark.asyncio
async def test_a_revoked_device_holding_the_old_key_is_refused() -> None:
    a, lost = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    _, accepted = await _handshake(
        _credentials(lost, [(0, OLD)], {_public(a), _public(lost)}),
        _credentials(a, [(1, NEW), (0, OLD)], {_public(a)}))
    assert isinstance(accepted, SyncError) and "roster" in accepted.message


def test_of_two_concurrent_rotations_every_device_adopts_the_lowest_rotators_key() -> None:
    device = Ed25519PrivateKey.generate()
    record: dict[str, object] = {"name": "lab", "public_key": _public(device).hex()}
    for rotator, key in (("b-rotator", NEW), ("a-rotator", OLD)):
        sealed = seal_mesh_key(key, _public(device), seal_context(MESH, 1, rotator, "lab"))
        record[f"mesh_key.1.{rotator}"] = sealed.hex()
    assert keys_sealed_to(record, "lab", device, MESH) == {1: OLD}
    assert keys_sealed_to(record, "lab", device, MESH, held=[1]) == {}
    assert keys_sealed_to(record, "lab", Ed25519PrivateKey.generate(), MESH) == {}
