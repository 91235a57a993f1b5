"""Attachments in USB bundles: a bundle carries the bytes of the attachments of the charts it
carries (sealed like the rest), each once; the importing device then holds them; bytes that
do not match their SHA-256 are refused with a clear error and nothing changes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest
from bundle_mesh import bundle_of, charts_on, make_mesh, stored_heads
from sync_procs import AT_MS, store_docs

from crdt_model.adapter import Doc
from crdt_model.attachments import add_attachment
from crdt_model.context import Author
from meshd import attest, identity
from meshd.attest import SIGNATURES
from meshd.bundle.format import (
    BundleHeader,
    BundleRefused,
    BundleWriter,
    bundle_key,
    new_salt,
)
from meshd.bundle.importing import import_bundle
from meshd.store.sqlcipher import SqlCipherStore


def _blobs(data: identity.DataDir, sha256s: list[str]) -> dict[str, tuple[bytes, str]]:
    async def read() -> dict[str, tuple[bytes, str]]:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                                  create=False) as store:
            return {s: found for s in sha256s if (found := await store.read_blob(s))}

    return asyncio.run(read())


def _attach(data: identity.DataDir, doc_id: str, doc: Doc, blob: bytes, content_type: str,
            entry_id: str) -> str:
    """Store `blob` on `data` and reference it on the chart; its SHA-256."""
    sha256 = hashlib.sha256(blob).hexdigest()

    async def put() -> None:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                                  create=False) as store:
            await store.put_blob(sha256, blob, content_type)

    asyncio.run(put())
    author = Author(data.identity.device_id, "system", AT_MS + 1000)
    add_attachment(doc, {"sha256": sha256, "name": "scan", "content_type": content_type,
                         "size": len(blob), "purpose": "document"}, author, entry_id)
    store_docs(data, {doc_id: doc})
    return sha256


def test_a_bundle_carries_its_charts_attachments_sealed_and_they_arrive(
    tmp_path: Path,
) -> None:
    a, b = make_mesh(tmp_path, 2)
    docs = charts_on(a, 3)
    (first, first_doc), (second, second_doc) = list(docs.items())[:2]
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(300_000)
    scan = b"%PDF-1.4 Kisumu referral " + os.urandom(2000)
    wanted = [_attach(a, first, first_doc, photo, "image/png", "att1"),
              _attach(a, first, first_doc, scan, "application/pdf", "att2"),
              # The same photo on another chart travels once.
              _attach(a, second, second_doc, photo, "image/png", "att3")]

    made = bundle_of(a, tmp_path / "usb.cmb")
    assert made["attachments"] == 2 and made["attachments_left_out"] == []
    assert made["attachment_bytes"] == len(photo) + len(scan)
    assert b"Kisumu referral" not in (tmp_path / "usb.cmb").read_bytes()
    assert _blobs(b, wanted) == {}

    done = asyncio.run(import_bundle(b.path, tmp_path / "usb.cmb"))

    assert done["refused"] == 0 and done["attachments"] == 2
    assert _blobs(b, wanted) == {wanted[0]: (photo, "image/png"),
                                 wanted[1]: (scan, "application/pdf")}


def test_attachment_bytes_not_matching_their_sha256_are_refused_and_nothing_changes(
    tmp_path: Path,
) -> None:
    a, b = make_mesh(tmp_path, 2)
    docs = charts_on(a, 2)
    doc_id, doc = next(iter(docs.items()))
    good = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)
    sha256 = _attach(a, doc_id, doc, good, "image/png", "att1")
    header = BundleHeader(mesh=a.identity.mesh_id, device=a.identity.device_id,
                          device_name=a.identity.device_name, epoch=a.mesh_epoch,
                          created_ms=int(time.time() * 1000), since_ms=0, salt=new_salt())
    # Signed and sealed by a device on the roster, but the bytes are not the ones named.
    with (tmp_path / "bad.cmb").open("wb") as out:
        writer = BundleWriter(out, header, bundle_key(a.mesh_key, header), a.device_key)
        writer.add(doc_id, doc.save())
        writer.add_blob(sha256, "image/png", good[:-1] + bytes([good[-1] ^ 1]))
        writer.finish()
    heads = stored_heads(b)

    with pytest.raises(BundleRefused) as caught:
        asyncio.run(import_bundle(b.path, tmp_path / "bad.cmb"))

    assert "does not match its SHA-256" in caught.value.message
    assert "nothing was imported" in caught.value.message
    assert stored_heads(b) == heads and doc_id not in heads
    assert _blobs(b, [sha256]) == {}


def _signatures(data: identity.DataDir, doc_id: str) -> bytes:
    async def read() -> bytes:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                                  create=False) as store:
            return attest.pack((await store.attestations([doc_id]))[doc_id])

    return asyncio.run(read())


def test_a_version_1_bundle_without_attachments_still_imports(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    doc_id, doc = next(iter(charts_on(a, 1).items()))
    header = BundleHeader(mesh=a.identity.mesh_id, device=a.identity.device_id,
                          device_name=a.identity.device_name, epoch=a.mesh_epoch,
                          created_ms=int(time.time() * 1000), since_ms=0, salt=new_salt(),
                          version=1)
    with (tmp_path / "old.cmb").open("wb") as out:
        writer = BundleWriter(out, header, bundle_key(a.mesh_key, header), a.device_key)
        writer.add(SIGNATURES + doc_id, _signatures(a, doc_id))
        writer.add(doc_id, doc.save())
        writer.finish()
    done = asyncio.run(import_bundle(b.path, tmp_path / "old.cmb"))
    assert done["changed"] == 1, done
    assert stored_heads(b)[doc_id] == tuple(doc.heads())
