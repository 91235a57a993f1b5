"""The session handshake, and the sealed channel it yields.

    dialer                                   listener
    ClientHello(ephemeral, nonce)  ───────▶
                                   ◀───────  ServerHello(ephemeral, nonce)
    both: keys = HKDF(X25519, salt=mesh key, info=transcript)
    sealed Auth(device key, name, sig) ───▶  opens (else: wrong mesh key), checks roster + sig
                                   ◀───────  sealed Auth(device key, name, sig)

The listener reveals its identity only to a dialer that proved both the mesh key and a rostered
device key. Signatures cover the transcript, so a relayed or spliced handshake fails.

Invites (meshd.provision): an invited device's key is pending on the roster, so no node accepts
it. On its first dial the device signs with the invite's key and names its own (`next_key`);
only the inviter admits that, once and before the invite expires, and the device's own key
then replaces the invite's in the directory. A copy of the invite used later gets nothing.

Key epochs (membership): revoking a device rotates the mesh key. The dialer uses its newest key;
the listener tries each key of its keyring, newest first, and the channel records which epoch
opened it. A rostered device back from being offline during a rotation still gets in with its
older key; the engine then hands it only the directory (which carries its new key, sealed to it)
and closes, so nothing else flows over a key a revoked device also knows. Likewise a dialer whose
newest key is refused retries with its older ones, and hands the directory to a stale listener.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crdt_model.errors import SyncError
from meshd import wire, wire_pack
from meshd.sync import crypto
from meshd.sync.ports import Link

DIALER_ROLE = b"dialer"
LISTENER_ROLE = b"listener"
_M = TypeVar("_M")


class Enrolment:
    """An invited device not yet enrolled: it dials with its invite's key until one listener
    admits its own key; `on_done` then forgets the invite's key."""

    def __init__(self, invite_key: Ed25519PrivateKey, on_done: Callable[[], None]) -> None:
        self.invite_key = invite_key
        self.done = False
        self._on_done = on_done

    def finish(self) -> None:
        """The invite is used: from now on this device dials with its own key."""
        if not self.done:
            self.done = True
            self._on_done()


@dataclass(frozen=True, slots=True)
class Credentials:
    """What this device proves in a handshake, and whom it accepts."""

    device_key: Ed25519PrivateKey
    device_name: str
    mesh_key: bytes
    roster: Callable[[], Collection[bytes]]
    # (epoch, mesh key) newest first, read at each handshake; None: `mesh_key` alone, epoch 0.
    keyring: Callable[[], Sequence[tuple[int, bytes]]] | None = None
    # Whole documents handed to a rostered peer that used an outdated key, instead of a session.
    handoff_docs: tuple[str, ...] = ()
    # Dialer: this device was invited and has not used its invite yet.
    enrolment: Enrolment | None = None
    # Listener: admit(invite key, own key) enrols an invited device; True if it did just now.
    admit: Callable[[bytes, bytes], bool] | None = None

    @property
    def device_public(self) -> bytes:
        """This device's raw Ed25519 public key."""
        return crypto.public_bytes(self.device_key)

    def mesh_keys(self) -> Sequence[tuple[int, bytes]]:
        """(epoch, mesh key) this device holds, newest first."""
        keys = self.keyring() if self.keyring is not None else ()
        return keys or ((0, self.mesh_key),)


class SecureChannel:
    """A link whose every frame is a sealed wire message; counts bytes each way. Bulk messages
    are compressed as one stream each way (meshd.wire_pack): `unpacker` is the reader's."""

    def __init__(
        self, link: Link, sealer: crypto.FrameSealer, opener: crypto.FrameOpener,
        peer_key: bytes, peer_name: str,
    ) -> None:
        self.link = link
        self.peer_key = peer_key
        self.peer_name = peer_name
        self.bytes_in = 0
        self.bytes_out = 0
        self.key_epoch = 0  # the mesh key epoch this session was opened with
        self.outdated_key = False  # the peer used an older key than this device's newest
        self.linked = False  # authenticated by a credential, not the mesh roster (the relay)
        self.push_all = False  # linked, yet the only way there (a relay's link to its upstream)
        self._sealer = sealer
        self._opener = opener
        self._packer = wire_pack.Packer()
        self.unpacker = wire_pack.Unpacker()

    @property
    def peer_id(self) -> str:
        """The peer's device key as hex: its identity in the mesh."""
        return self.peer_key.hex()

    async def send(self, message: wire.Message) -> None:
        """Seal and send one message (compressed when it is bulk). Frames are packed, sealed
        and queued in the order of calls (nothing awaits in between), so the receiver's
        stream and nonces follow."""
        frame = self._sealer.seal(wire.encode(self._packer.pack(message)))
        self.bytes_out += len(frame)
        await self.link.send(frame)

    async def receive_frame(self) -> bytes:
        """The next sealed frame's plaintext; SyncError if it fails authentication."""
        frame = await self.link.receive()
        self.bytes_in += len(frame)
        return self._opener.open(frame)


async def dial(link: Link, me: Credentials, timeout_s: float, key_index: int = 0) -> SecureChannel:
    """Run the dialer's side of the handshake; SyncError if the peer is not one of ours.

    `key_index` picks an older mesh key (1 = the one before the newest), to reach a peer that
    was offline during a rotation; the channel is then marked `outdated_key`.
    """
    async with asyncio.timeout(timeout_s):
        ephemeral = X25519PrivateKey.generate()
        hello = wire.encode(wire.ClientHello(crypto.public_bytes(ephemeral), os.urandom(32)))
        await link.send(hello)
        reply = await link.receive()
        server = _expect(wire.decode(reply), wire.ServerHello)
        transcript = crypto.transcript_hash(hello, reply)
        epoch, mesh_key = me.mesh_keys()[key_index]
        out_key, in_key = crypto.session_keys(ephemeral, server.ephemeral, mesh_key, transcript)
        sealer, opener = crypto.FrameSealer(out_key), crypto.FrameOpener(in_key)
        enrolling = me.enrolment is not None and not me.enrolment.done
        await link.send(sealer.seal(wire.encode(_auth(me, DIALER_ROLE, transcript))))
        peer = _expect(wire.decode(opener.open(await link.receive())), wire.Auth)
        if peer.next_key:
            raise SyncError("a listener can't enrol")
        _check_peer(me, peer, LISTENER_ROLE, transcript)
        link.authenticated()
        if enrolling and me.enrolment is not None:
            me.enrolment.finish()  # the listener admitted our own key: the invite is spent
        channel = SecureChannel(link, sealer, opener, peer.device_key, peer.device_name)
        channel.bytes_out, channel.bytes_in = len(hello), len(reply)
        channel.key_epoch, channel.outdated_key = epoch, key_index > 0
        return channel


async def accept(link: Link, me: Credentials, timeout_s: float) -> SecureChannel:
    """Run the listener's side of the handshake; SyncError (having revealed nothing) on failure."""
    async with asyncio.timeout(timeout_s):
        hello = await link.receive()
        client = _expect(wire.decode(hello), wire.ClientHello)
        ephemeral = X25519PrivateKey.generate()
        reply = wire.encode(wire.ServerHello(crypto.public_bytes(ephemeral), os.urandom(32)))
        await link.send(reply)
        transcript = crypto.transcript_hash(hello, reply)
        keys = me.mesh_keys()
        epoch, sealer, opener, peer = _open_auth(
            keys, ephemeral, client.ephemeral, transcript, await link.receive()
        )
        peer_key = _check_peer(me, peer, DIALER_ROLE, transcript)
        link.authenticated()  # before our Auth: the dialer may send large frames right after it
        await link.send(sealer.seal(wire.encode(_auth(me, LISTENER_ROLE, transcript))))
        channel = SecureChannel(link, sealer, opener, peer_key, peer.device_name)
        channel.bytes_out, channel.bytes_in = len(reply), len(hello)
        channel.key_epoch, channel.outdated_key = epoch, epoch < keys[0][0]
        return channel


def _open_auth(
    keys: Sequence[tuple[int, bytes]], ephemeral: X25519PrivateKey, peer_ephemeral: bytes,
    transcript: bytes, sealed_auth: bytes,
) -> tuple[int, crypto.FrameSealer, crypto.FrameOpener, wire.Auth]:
    """The listener's keys and the dialer's Auth, opened with the first mesh key that fits."""
    failure = SyncError("no mesh key")
    for epoch, mesh_key in keys:
        in_key, out_key = crypto.session_keys(ephemeral, peer_ephemeral, mesh_key, transcript)
        sealer, opener = crypto.FrameSealer(out_key), crypto.FrameOpener(in_key)
        try:
            peer = _expect(wire.decode(opener.open(sealed_auth)), wire.Auth)
        except SyncError as exc:
            failure = exc
            continue
        return epoch, sealer, opener, peer
    raise SyncError(f"peer does not hold the mesh key ({failure.message})") from failure


def _auth(me: Credentials, role: bytes, transcript: bytes) -> wire.Auth:
    enrolment = me.enrolment
    if role == DIALER_ROLE and enrolment is not None and not enrolment.done:
        # Each key signs the transcript with the other: neither can be swapped in transit.
        invite, own = crypto.public_bytes(enrolment.invite_key), me.device_public
        signature = crypto.sign_transcript(enrolment.invite_key, role, transcript + own)
        proof = crypto.sign_transcript(me.device_key, role, transcript + invite)
        return wire.Auth(invite, me.device_name, signature, own, proof)
    signature = crypto.sign_transcript(me.device_key, role, transcript)
    return wire.Auth(me.device_public, me.device_name, signature)


def _check_peer(me: Credentials, peer: wire.Auth, role: bytes, transcript: bytes) -> bytes:
    """The peer's device key once it is proven and allowed (its own key, when it enrols)."""
    if peer.device_key == me.device_public or peer.next_key == me.device_public:
        raise SyncError("connected to myself")
    crypto.verify_transcript(peer.device_key, role, transcript + peer.next_key, peer.signature)
    if peer.next_key:  # it holds the key it enrols, too
        crypto.verify_transcript(peer.next_key, role, transcript + peer.device_key,
                                 peer.next_signature)
    if peer.device_key in me.roster():
        return peer.device_key
    # Checked last: admitting an enrolment spends the invite.
    if peer.next_key and me.admit is not None and me.admit(peer.device_key, peer.next_key):
        return peer.next_key
    raise SyncError("peer device is not on the mesh roster")


def _expect(message: wire.Message, kind: type[_M]) -> _M:
    if not isinstance(message, kind):
        raise SyncError(f"expected {kind.__name__} during the handshake")
    return message
