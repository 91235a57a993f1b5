"""A bundle imported on a data dir whose node is running goes through that node's API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bundle_mesh import bundle_of, charts_on, make_mesh
from sync_procs import MeshdProcess

from meshd.bundle.format import BundleRefused
from meshd.bundle.importing import import_bundle


def test_a_running_node_checks_and_merges_a_bundle(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    docs = charts_on(a, 5)
    bundle_of(a, tmp_path / "usb.cmb")
    data = bytearray((tmp_path / "usb.cmb").read_bytes())
    data[len(data) // 2] ^= 0x40
    (tmp_path / "bad.cmb").write_bytes(bytes(data))
    node = MeshdProcess(b).start([])
    try:
        with pytest.raises(BundleRefused):
            asyncio.run(import_bundle(b.path, tmp_path / "bad.cmb"))
        for doc_id in docs:
            assert node.call("GET", f"/api/v1/docs/{doc_id}/heads")[0] == 404

        done = asyncio.run(import_bundle(b.path, tmp_path / "usb.cmb"))
        again = asyncio.run(import_bundle(b.path, tmp_path / "usb.cmb"))

        assert done["via"] == "node" and done["changed"] == done["documents"] - 1  # directory
        assert again["changed"] == 0
        for doc_id, doc in docs.items():
            status, body = node.call("GET", f"/api/v1/docs/{doc_id}/heads")
            assert status == 200 and body["heads"] == [h.hex() for h in doc.heads()]
        status, _ = node.call("POST", "/api/v1/bundles", {"not": "a bundle"})
        assert status == 400
    finally:
        node.stop()
