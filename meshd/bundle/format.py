"""The USB bundle file: documents compressed, sealed to the mesh and signed by a device.

    MAGIC (8 bytes) | u32 header length | header JSON
    frames: u32 length | ChaCha20-Poly1305(frame of the zlib stream), the last one flagged
    u32 0 | Ed25519 signature (64 bytes) over SHA-256 of everything before it

The header names the format version, mesh, device, key epoch, creation time and a random
salt; the frame key is HKDF(mesh key of that epoch, salt), every frame's associated data is the
header's digest and its nonce a counter with a final flag, so a frame altered, moved, dropped
or cut off fails to open. The zlib stream holds records: `D` doc id + document bytes, `B` an
attachment blob (SHA-256, content type, bytes; version 2, after the chart naming it, checked
against its digest on reading), and one `E` record with their counts last. Readers and writers
hold one frame and one document (or blob) at a time: memory never grows with the number of
charts. The records are read by meshd.bundle.reading. No store, no network here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crdt_model.attachments import MAX_ATTACHMENT_BYTES
from crdt_model.errors import ValidationError

MAGIC = b"CMBUNDL\x01"
FORMAT = "clinicmesh-bundle"
VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 carried no attachment blobs
FRAME_BYTES = 64 * 1024
TAG_BYTES = 16
SIGNATURE_BYTES = 64
SALT_BYTES = 16
MAX_HEADER_BYTES = 16 * 1024
MAX_DOC_ID_BYTES = 200
# The largest document the remote path accepts (a facility's stock ledger; meshd.remote_changes).
MAX_DOC_BYTES = 16 * 1024 * 1024
# The most attachment bytes one bundle carries (the rest reach the devices over sync).
MAX_BUNDLE_BLOB_BYTES = 1024 * 1024 * 1024
MAX_CONTENT_TYPE_BYTES = 255
_KEY_INFO = b"clinicmesh bundle v1"
_SIGN_CONTEXT = b"clinicmesh bundle signature v1"
U32 = struct.Struct(">I")
DOC_RECORD, BLOB_RECORD, END_RECORD = b"D", b"B", b"E"


class BundleRefused(ValidationError):
    """A bundle that can't be imported here; nothing was changed."""

    code = "bundle_refused"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="bundle")


@dataclass(frozen=True, slots=True)
class BundleHeader:
    """Who made a bundle, for which mesh and key epoch, when, and since when it holds changes."""

    mesh: str
    device: str
    device_name: str
    epoch: int
    created_ms: int
    since_ms: int
    salt: str  # hex; makes each bundle's key its own, so counter nonces never repeat
    to: str | None = None
    format: str = FORMAT
    version: int = VERSION
    compression: str = "zlib"
    cipher: str = "chacha20poly1305"

    def encode(self) -> bytes:
        """The header as written in the file (sorted JSON)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


def new_salt() -> str:
    """A fresh random salt for a bundle's key."""
    return secrets.token_bytes(SALT_BYTES).hex()


def bundle_key(mesh_key: bytes, header: BundleHeader) -> bytes:
    """The frame key of this bundle, from the mesh key of its epoch."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=bytes.fromhex(header.salt),
                info=_KEY_INFO + header.mesh.encode()).derive(mesh_key)


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(8, "big") + b"\0\0\0" + (b"\1" if final else b"\0")


def _signed(digest: bytes) -> bytes:
    return _SIGN_CONTEXT + digest


class BundleWriter:
    """Writes one bundle to an open binary file: `add(doc_id, data)` each document, `finish()`."""

    def __init__(self, out: BinaryIO, header: BundleHeader, key: bytes,
                 signer: Ed25519PrivateKey) -> None:
        self._out, self._signer = out, signer
        self._aead = ChaCha20Poly1305(key)
        self._hash = hashlib.sha256()
        raw = header.encode()
        self._aad = hashlib.sha256(raw).digest()
        self._zip = zlib.compressobj(6)
        self._version = header.version
        self._pending = bytearray()
        self._counter = 0
        self.documents = 0
        self.blobs = 0
        self.blob_bytes = 0
        self._write(MAGIC + U32.pack(len(raw)) + raw)

    def _write(self, data: bytes) -> None:
        self._hash.update(data)
        self._out.write(data)

    def _seal(self, plain: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._counter, final), plain, self._aad)
        self._counter += 1
        self._write(U32.pack(len(sealed)) + sealed)

    def _feed(self, plain: bytes) -> None:
        self._pending += self._zip.compress(plain)
        while len(self._pending) >= FRAME_BYTES:
            self._seal(bytes(self._pending[:FRAME_BYTES]), final=False)
            del self._pending[:FRAME_BYTES]

    def add(self, doc_id: str, data: bytes) -> None:
        """Append one document (its saved bytes, or snapshot + change chunks)."""
        ident = doc_id.encode()
        if not 0 < len(ident) <= MAX_DOC_ID_BYTES or len(data) > MAX_DOC_BYTES:
            raise ValidationError(f"{doc_id[:80]} can't go in a bundle (id or size)")
        self._feed(DOC_RECORD + U32.pack(len(ident)) + ident + U32.pack(len(data)))
        self._feed(data)
        self.documents += 1

    def add_blob(self, sha256: str, content_type: str, data: bytes) -> None:
        """Append an attachment's bytes (after the chart that names it)."""
        kind = content_type.encode()
        if len(data) > MAX_ATTACHMENT_BYTES or len(kind) > MAX_CONTENT_TYPE_BYTES or \
                self.blob_bytes + len(data) > MAX_BUNDLE_BLOB_BYTES:
            raise ValidationError(f"attachment {sha256[:12]} can't go in a bundle (size)")
        self._feed(BLOB_RECORD + bytes.fromhex(sha256) + bytes([len(kind)]) + kind
                   + U32.pack(len(data)))
        self._feed(data)
        self.blobs += 1
        self.blob_bytes += len(data)

    def finish(self) -> None:
        """Write the end record, the final frame and the signature."""
        self._feed(END_RECORD + U32.pack(self.documents)
                   + (U32.pack(self.blobs) if self._version >= 2 else b""))
        self._pending += self._zip.flush()
        while len(self._pending) > FRAME_BYTES:
            self._seal(bytes(self._pending[:FRAME_BYTES]), final=False)
            del self._pending[:FRAME_BYTES]
        self._seal(bytes(self._pending), final=True)
        self._write(U32.pack(0))
        self._out.write(self._signer.sign(_signed(self._hash.digest())))


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise BundleRefused(f"the bundle is cut short (in its {what}): copy it again")
    return data


def read_header(stream: BinaryIO) -> BundleHeader:
    """The header at the start of `stream`; BundleRefused when it is not a bundle we read."""
    if stream.read(len(MAGIC)) != MAGIC:
        raise BundleRefused("this file is not a clinicmesh bundle")
    (size,) = U32.unpack(_read_exact(stream, 4, "header"))
    if size > MAX_HEADER_BYTES:
        raise BundleRefused("the bundle's header is damaged")
    try:
        record = json.loads(_read_exact(stream, size, "header"))
        if record.get("format") != FORMAT or record.get("version") not in READABLE_VERSIONS:
            raise BundleRefused(
                f"this bundle has format version {record.get('version')!r}; this device reads "
                f"version {VERSION}: update clinicmesh")
        header = BundleHeader(**record)
        for name, kind in (("mesh", str), ("device", str), ("device_name", str),
                           ("epoch", int), ("created_ms", int), ("since_ms", int)):
            if not isinstance(getattr(header, name), kind):
                raise ValueError(name)
        bytes.fromhex(header.salt)
    except BundleRefused:
        raise
    except (ValueError, TypeError, AttributeError):
        raise BundleRefused("the bundle's header is damaged") from None
    if header.compression != "zlib" or header.cipher != "chacha20poly1305":
        raise BundleRefused("the bundle uses a compression or cipher this device can't read")
    return header


def check_signature(stream: BinaryIO, public_key: bytes) -> None:
    """Verify the device's signature over the whole file (`stream` at its start)."""
    digest = hashlib.sha256()
    head = _read_exact(stream, len(MAGIC) + 4, "header")
    (size,) = U32.unpack(head[len(MAGIC):])
    digest.update(head + _read_exact(stream, min(size, MAX_HEADER_BYTES + 1), "header"))
    while True:
        raw = _read_exact(stream, 4, "frames")
        digest.update(raw)
        (size,) = U32.unpack(raw)
        if size == 0:
            break
        if size > FRAME_BYTES + TAG_BYTES:
            raise BundleRefused("the bundle is damaged (a frame of impossible size)")
        digest.update(_read_exact(stream, size, "frames"))
    signature = _read_exact(stream, SIGNATURE_BYTES, "signature")
    if stream.read(1):
        raise BundleRefused("the bundle has bytes after its signature: it was altered")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature,
                                                              _signed(digest.digest()))
    except (InvalidSignature, ValueError):
        raise BundleRefused("the bundle's signature does not match its device: it was altered "
                            "or damaged") from None


def plain_frames(stream: BinaryIO, header: BundleHeader, key: bytes) -> Iterator[bytes]:
    """Each frame opened, in order, ending after the final one."""
    aead, aad = ChaCha20Poly1305(key), hashlib.sha256(header.encode()).digest()
    counter = 0
    while True:
        (size,) = U32.unpack(_read_exact(stream, 4, "frames"))
        if size == 0 or size > FRAME_BYTES + TAG_BYTES:
            raise BundleRefused("the bundle is damaged or cut short (its last frame is missing)")
        sealed = _read_exact(stream, size, "frames")
        for final in (False, True):
            try:
                plain = aead.decrypt(_nonce(counter, final), sealed, aad)
            except InvalidTag:
                continue
            break
        else:
            raise BundleRefused("the bundle can't be opened with this mesh's key: it was "
                                "altered, damaged, or sealed for another mesh")
        yield plain
        counter += 1
        if final:
            return
