"""A byte stream sealed under a passphrase, chunk by chunk, so memory never holds it whole.

Layout: MAGIC, a JSON header line (who made it, when, and the scrypt salt and cost), then
chunks, each a 4-byte length and a ChaCha20-Poly1305 ciphertext. The nonce is the chunk's
number; the associated data binds the header, the number and whether it is the last chunk, so
a changed byte, a chunk moved, dropped or added, or a file cut short fails to open. A wrong
passphrase fails on the first chunk, before a caller has written anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crdt_model.errors import ClinicMeshError

MAGIC = b"clinicmesh-sealed-1\n"
CHUNK_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 4096
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
_TAG_BYTES = 16
_LENGTH = struct.Struct(">I")


class SealedStreamError(ClinicMeshError):
    """The file is not a sealed stream, the passphrase is wrong, or the file was changed."""

    code = "sealed_stream"


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise SealedStreamError("a passphrase is needed")
    return hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=SCRYPT_MAXMEM)


def _associated(header: bytes, index: int, last: bool) -> bytes:
    return hashlib.sha256(header).digest() + struct.pack(">Q?", index, last)


def _nonce(index: int) -> bytes:
    return b"\0\0\0\0" + struct.pack(">Q", index)


class SealedWriter(io.RawIOBase):
    """A writable binary file that seals what is written to `out`; close() seals the last."""

    def __init__(self, out: BinaryIO, passphrase: str, header: dict[str, Any]) -> None:
        super().__init__()
        salt = os.urandom(16)
        record = {**header, "salt": salt.hex(), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
        self._header = json.dumps(record, sort_keys=True).encode() + b"\n"
        self._aead = ChaCha20Poly1305(_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
        self._out = out
        self._buffer = bytearray()
        self._index = 0
        out.write(MAGIC + self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        """Buffer `data`, sealing every full chunk."""
        view = memoryview(data).cast("B")
        self._buffer += view
        while len(self._buffer) > CHUNK_BYTES:
            self._seal(bytes(self._buffer[:CHUNK_BYTES]), last=False)
            del self._buffer[:CHUNK_BYTES]
        return len(view)

    def close(self) -> None:
        """Seal what is left as the last chunk (once)."""
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()

    def _seal(self, plain: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index), plain,
                                    _associated(self._header, self._index, last))
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1


class SealedReader(io.RawIOBase):
    """A readable binary file of what a SealedWriter sealed; SealedStreamError on any change."""

    def __init__(self, source: BinaryIO, passphrase: str) -> None:
        super().__init__()
        if source.read(len(MAGIC)) != MAGIC:
            raise SealedStreamError("this is not a clinicmesh backup or bundle")
        line = source.readline(MAX_HEADER_BYTES)
        try:
            self.header: dict[str, Any] = json.loads(line)
            salt = bytes.fromhex(self.header["salt"])
            n, r, p = (int(self.header[k]) for k in ("n", "r", "p"))
        except (ValueError, KeyError, TypeError) as exc:
            raise SealedStreamError("the file's header is damaged") from exc
        if n > 2**20 or r > 32 or p > 16:
            raise SealedStreamError("the file asks for an unreasonable key derivation")
        self._header = line
        self._aead = ChaCha20Poly1305(_key(passphrase, salt, n, r, p))
        self._source = source
        self._plain = b""
        self._index = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        """Fill `target` with the next plaintext bytes (0 at the end)."""
        while not self._plain and not self._ended:
            self._plain = self._open_next()
        count = min(len(target), len(self._plain))
        target[:count] = self._plain[:count]
        self._plain = self._plain[count:]
        return count

    def require_end(self) -> None:
        """Read to the end; SealedStreamError unless the last chunk was there and nothing after."""
        while self.read(CHUNK_BYTES):
            pass
        if self._source.read(1):
            raise SealedStreamError("the file goes on after its last part")

    def _open_next(self) -> bytes:
        length = self._source.read(_LENGTH.size)
        if len(length) < _LENGTH.size:
            raise SealedStreamError("the file is cut short: copy it again")
        (size,) = _LENGTH.unpack(length)
        if size > CHUNK_BYTES + _TAG_BYTES:
            raise SealedStreamError("the file is damaged (a part is too long)")
        sealed = self._source.read(size)
        if len(sealed) < size:
            raise SealedStreamError("the file is cut short: copy it again")
        for last in (False, True):
            try:
                plain = self._aead.decrypt(_nonce(self._index), sealed,
                                           _associated(self._header, self._index, last))
            except InvalidTag:
                continue
            self._index += 1
            self._ended = last
            return plain
        if self._index == 0:
            raise SealedStreamError("wrong passphrase, or the file is damaged")
        raise SealedStreamError("the file is damaged: a part does not open")
