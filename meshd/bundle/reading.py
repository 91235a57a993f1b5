"""Reading a USB bundle's records (meshd.bundle.format opens and checks the frames): the zlib
stream read a bounded piece at a time, documents, and attachment blobs checked against their
SHA-256 as they come. No store, no network here.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from crdt_model.attachments import MAX_ATTACHMENT_BYTES
from crdt_model.attachments import content_type as checked_type
from crdt_model.errors import ValidationError
from meshd.bundle.format import (
    BLOB_RECORD,
    DOC_RECORD,
    END_RECORD,
    FRAME_BYTES,
    MAX_BUNDLE_BLOB_BYTES,
    MAX_DOC_BYTES,
    MAX_DOC_ID_BYTES,
    U32,
    BundleRefused,
    plain_frames,
    read_header,
)


@dataclass(frozen=True, slots=True)
class Blob:
    """An attachment's bytes carried in a bundle, with the SHA-256 they hash to."""

    sha256: str
    content_type: str
    data: bytes


class _Inflater:
    """The zlib stream of a bundle, read a bounded piece at a time."""

    def __init__(self, frames: Iterator[bytes]) -> None:
        self._frames = frames
        self._zip = zlib.decompressobj()
        self._buffer = bytearray()
        self._input = b""

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._input:
                if self._zip.eof:
                    break
                self._input = next(self._frames, b"")
                if not self._input and not self._zip.unconsumed_tail:
                    break
            try:
                self._buffer += self._zip.decompress(self._input, FRAME_BYTES)
            except zlib.error:
                raise BundleRefused("the bundle's contents are damaged") from None
            self._input = self._zip.unconsumed_tail
        if len(self._buffer) < size:
            raise BundleRefused("the bundle's contents end too early")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def at_end(self) -> bool:
        return not self._buffer and self._zip.eof and not self._zip.unused_data \
            and next(self._frames, None) is None


def contents(stream: BinaryIO, key: bytes) -> Iterator[tuple[str, bytes] | Blob]:
    """Every record of the bundle (`stream` at its start), in order: (doc id, bytes) of a
    document, or a Blob whose bytes were checked against its SHA-256.

    The frames are opened and the records checked as they come; BundleRefused at the first
    fault, so a caller must read to the end before trusting any of it.
    """
    header = read_header(stream)
    inflater = _Inflater(plain_frames(stream, header, key))
    count = blobs = blob_bytes = 0
    while True:
        kind = inflater.read(1)
        if kind == END_RECORD:
            (expected,) = U32.unpack(inflater.read(4))
            expected_blobs = U32.unpack(inflater.read(4))[0] if header.version >= 2 else 0
            if expected != count or expected_blobs != blobs or not inflater.at_end():
                raise BundleRefused("the bundle's contents are damaged (count or trailing data)")
            return
        if kind == BLOB_RECORD and header.version >= 2:
            blob = _blob(inflater)
            blobs += 1
            blob_bytes += len(blob.data)
            if blob_bytes > MAX_BUNDLE_BLOB_BYTES:
                raise BundleRefused("the bundle carries more attachment bytes than a bundle may")
            yield blob
            continue
        if kind != DOC_RECORD:
            raise BundleRefused("the bundle's contents are damaged (an unknown record)")
        (id_size,) = U32.unpack(inflater.read(4))
        if not 0 < id_size <= MAX_DOC_ID_BYTES:
            raise BundleRefused("the bundle's contents are damaged (a document id)")
        try:
            doc_id = inflater.read(id_size).decode()
        except UnicodeDecodeError:
            raise BundleRefused("the bundle's contents are damaged (a document id)") from None
        (size,) = U32.unpack(inflater.read(4))
        if size > MAX_DOC_BYTES:
            raise BundleRefused(f"{doc_id} in the bundle is over the size limit")
        count += 1
        yield doc_id, inflater.read(size)


def _blob(inflater: _Inflater) -> Blob:
    sha256 = inflater.read(32).hex()
    try:
        content_type = checked_type(inflater.read(inflater.read(1)[0]).decode("ascii"))
    except (UnicodeDecodeError, ValidationError):
        raise BundleRefused("the bundle's contents are damaged (an attachment)") from None
    (size,) = U32.unpack(inflater.read(4))
    if size > MAX_ATTACHMENT_BYTES:
        raise BundleRefused(f"attachment {sha256[:12]} in the bundle is over the size limit")
    data = inflater.read(size)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BundleRefused(f"attachment {sha256[:12]} in the bundle does not match its SHA-256: "
                            "the bundle was altered or made by faulty software; nothing was "
                            "imported")
    return Blob(sha256, content_type, data)
