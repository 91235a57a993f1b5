"""The new device's side of pairing: find the inviting device, run the PAKE, create the data dir.

The inviter is found over mDNS (devices advertising an open pairing window) unless peer
addresses are given; the code is tried on each in turn until one accepts it, since a wrong code
costs a device one of its three tries but tells the joiner only "not this one". The data dir
is built aside and renamed into place only once everything in the mesh secret has been checked
and stored, so a failed join leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from discovery.errors import DiscoveryError, PairingClosed, PairingError, WrongCode
from discovery.inviting import inviting_devices, list_inviting_devices
from discovery.pairing import normalize_code
from discovery.pairing_channel import ChannelClosed
from discovery.pairing_http import pair_with_any_address
from discovery.qr import parse_pairing_uri
from discovery.static import StaticPeer, parse_peer
from meshd.identity import (
    DataDir,
    DataDirError,
    Identity,
    adopt_identity,
    default_device_name,
    load_data_dir,
    write_keyring,
)
from meshd.membership.errors import PairingFailed, from_discovery
from meshd.membership.local_store import open_documents
from meshd.membership.mdns_link import short_device_id
from meshd.membership.secret import JoinerIdentity, MeshSecret, decode_secret

FIND_INVITER_TIMEOUT_S = 30.0  # an inviter announces within ~1 s; a busy LAN may take longer
LIST_LISTEN_S = 3.0  # long enough to hear every device announce once
PAIRING_ORIGIN = "pairing"  # the origin recorded for the directory a paired device starts from


@dataclass(frozen=True, slots=True)
class Joined:
    """A new device of a mesh: its data dir and where it paired."""

    data: DataDir
    inviter: str  # HOST:PORT of the inviting device


def join_mesh(
    data_dir: Path, code: str, *, peers: Sequence[str] = (), device: str | None = None,
    device_name: str | None = None, passphrase: str | None = None,
    find_timeout_s: float = FIND_INVITER_TIMEOUT_S,
) -> Joined:
    """Pair with the device showing `code` and create `data_dir` (absent or empty) in its mesh.

    The code is tried on each of `peers` (HOST:PORT) in turn, else on each device that shows a
    code over mDNS (only the one with mDNS id `device`, when given), until one accepts it.
    """
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise DataDirError(f"{data_dir} is not empty (already a device?): use a new --data-dir")
    try:
        code = normalize_code(code)
        targets = [parse_peer(peer) for peer in peers]
    except DiscoveryError as exc:
        raise from_discovery(exc) from None
    key = Ed25519PrivateKey.generate()
    device_id = str(uuid.uuid4())
    name = (device_name or "").strip() or default_device_name()
    joiner = JoinerIdentity(device_id, name, key.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw))
    inviter, raw = asyncio.run(_pair(code, joiner, targets, device, find_timeout_s))
    secret = decode_secret(raw)
    _check_directory(secret)
    identity = Identity(device_id=device_id, device_name=name, mesh_id=secret.mesh_id,
                        facility_id=secret.facility_id, facility_name=secret.facility_name)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.with_name(f".{data_dir.name}.joining-{uuid.uuid4().hex[:8]}")
    try:
        made = adopt_identity(
            staging, identity,
            device_key=key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            mesh_key=secret.keys[max(secret.keys)],
            # mDNS finds the inviter again; a --peer is kept for links mDNS can't cross.
            peers=(inviter,) if targets else (), passphrase=passphrase,
        )
        write_keyring(staging, secret.keys, made.sealing_key)
        asyncio.run(_store_directory(made, secret, passphrase))
        os.rename(staging, data_dir)  # replaces an empty dir atomically
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Joined(load_data_dir(data_dir, passphrase), inviter)


def invitation(
    code: str | None, peers: Sequence[str] | None, uri: str | None
) -> tuple[str, list[str]]:
    """The code and the inviters' HOST:PORT to try (none: find them over mDNS), typed or from
    a QR URI."""
    if uri is not None:
        try:
            invite = parse_pairing_uri(uri)
        except DiscoveryError as exc:
            raise from_discovery(exc) from None
        return invite.code, [str(StaticPeer(invite.host, invite.port))]
    if code is None:
        raise PairingFailed("give the --code shown on the inviting device (or its QR's --uri)",
                            "no_code")
    return code, list(peers or ())


async def _pair(
    code: str, joiner: JoinerIdentity, targets: Sequence[StaticPeer], device: str | None,
    find_timeout_s: float,
) -> tuple[str, bytes]:
    """Try the code on each candidate inviter until one accepts: (its HOST:PORT, the secret)."""
    refusals: list[PairingError] = []
    async with contextlib.aclosing(_candidates(targets, joiner, device, find_timeout_s)) as found:
        async for addresses, port in found:
            try:
                address, raw = await pair_with_any_address(addresses, port, code, joiner.encode())
            except (WrongCode, PairingClosed, ChannelClosed) as exc:
                # Most likely another device's code (or its window closed): try the next one.
                refusals.append(exc)
                continue
            except DiscoveryError as exc:
                raise from_discovery(exc) from None
            return str(StaticPeer(address, port)), raw
    if not refusals:
        which = f"device {device}" if device else "device on this network"
        raise PairingFailed(
            f"no {which} showed a pairing code within {find_timeout_s:.0f} s: run `meshd pair` "
            "on a device of the clinic, or give --peer HOST:PORT", "no_inviter")
    wrong = [exc for exc in refusals if isinstance(exc, WrongCode)]
    raise from_discovery(wrong[0] if wrong else refusals[-1])


async def _candidates(
    targets: Sequence[StaticPeer], joiner: JoinerIdentity, device: str | None,
    find_timeout_s: float,
) -> AsyncGenerator[tuple[list[str], int]]:
    """(addresses, port) of each device to try: the targets given, else those mDNS hears."""
    if targets:
        for target in targets:
            yield [target.host], target.port
        return
    async with contextlib.aclosing(inviting_devices(
        device_short_id=short_device_id(joiner.device_id), timeout_s=find_timeout_s,
        quiet_s=LIST_LISTEN_S,
    )) as hints:
        async for hint in hints:
            if device is None or hint.device_short_id == device:
                yield list(hint.addresses), hint.port
                if device is not None:
                    return


def _check_directory(secret: MeshSecret) -> None:
    """The directory handed over is this mesh's and lists the inviter with its key."""
    try:
        doc = Doc.load(secret.directory)
        devices = directory.devices(doc)
        mesh = doc.to_dict().get("mesh")
    except ClinicMeshError:
        raise PairingFailed("the mesh directory received is damaged: pair again") from None
    inviter = devices.get(secret.inviter_id, {})
    if mesh != secret.mesh_id or inviter.get("public_key") != secret.inviter_key.hex():
        raise PairingFailed("the mesh directory received does not list the inviting device")


async def _store_directory(data: DataDir, secret: MeshSecret, passphrase: str | None) -> None:
    async with open_documents(data, passphrase) as documents:
        await documents.apply_remote(directory_id(secret.mesh_id), secret.directory,
                                     origin=PAIRING_ORIGIN)


def devices_offering_codes(listen_s: float = LIST_LISTEN_S) -> list[dict[str, Any]]:
    """The devices on this network with a pairing window open: mDNS id, addresses, port."""
    listener = short_device_id(str(uuid.uuid4()))
    hints = asyncio.run(list_inviting_devices(device_short_id=listener, listen_s=listen_s))
    return [{"id": h.device_short_id, "addresses": list(h.addresses), "port": h.port}
            for h in hints]
