"""USB bundles between two data dirs of one mesh whose nodes are not running."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from bundle_mesh import (
    audit_rows,
    bundle_of,
    charts_on,
    edit_chart,
    make_mesh,
    revoke_on,
    stored_heads,
)

from meshd import identity
from meshd.bundle import format as bundle_format
from meshd.bundle.format import BundleRefused
from meshd.bundle.importing import import_bundle


def _import(data_dir: Path, bundle: Path) -> dict[str, object]:
    return asyncio.run(import_bundle(data_dir, bundle))


def test_charts_cross_in_a_bundle_and_arrive_whole(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    docs = charts_on(a, 6)
    made = bundle_of(a, tmp_path / "usb.cmb")
    assert made["documents"] >= 7  # the charts and the directory

    done = _import(b.path, tmp_path / "usb.cmb")

    assert done["via"] == "store" and done["refused"] == 0
    # Every chart is new on b; the directory both devices started from is not.
    assert done["changed"] == done["documents"] - 1 == made["documents"] - 1
    on_b = stored_heads(b)
    for doc_id, doc in docs.items():
        assert on_b[doc_id] == tuple(doc.heads())
    origins = {row.origin for row in audit_rows(b) if row.action == "remote_write"}
    assert origins == {f"bundle:{a.identity.device_id}"}


def test_a_bundle_is_compressed_and_reveals_no_chart_text(tmp_path: Path) -> None:
    a, _ = make_mesh(tmp_path, 2)
    docs = charts_on(a, 20)
    raw_total = sum(len(doc.save()) for doc in docs.values())
    bundle_of(a, tmp_path / "usb.cmb")
    data = (tmp_path / "usb.cmb").read_bytes()
    assert len(data) < raw_total
    name = next(iter(docs.values())).to_dict()["demographics"]["family_name"]
    assert name.encode() not in data


def test_importing_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    charts_on(a, 4)
    bundle_of(a, tmp_path / "usb.cmb")
    _import(b.path, tmp_path / "usb.cmb")
    heads, audit = stored_heads(b), len(audit_rows(b))

    again = _import(b.path, tmp_path / "usb.cmb")

    assert again["changed"] == 0 and again["unchanged"] == again["documents"]
    assert "nothing new" in str(again["message"])
    assert stored_heads(b) == heads and len(audit_rows(b)) == audit


def test_an_older_bundle_after_a_newer_one_changes_nothing(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    docs = charts_on(a, 3)
    bundle_of(a, tmp_path / "monday.cmb")
    doc_id, doc = next(iter(docs.items()))
    edit_chart(a, doc, doc_id, "+254700111222")
    bundle_of(a, tmp_path / "tuesday.cmb")
    _import(b.path, tmp_path / "tuesday.cmb")
    heads = stored_heads(b)

    older = _import(b.path, tmp_path / "monday.cmb")

    assert older["changed"] == 0
    assert stored_heads(b) == heads
    assert heads[doc_id] == tuple(doc.heads())


def _refused(data_dir: Path, bundle: Path, words: str) -> None:
    with pytest.raises(BundleRefused) as caught:
        _import(data_dir, bundle)
    assert words in caught.value.message


@pytest.mark.parametrize("where", [0.02, 0.5, 0.97])
def test_a_tampered_byte_is_refused_and_nothing_changes(tmp_path: Path, where: float) -> None:
    a, b = make_mesh(tmp_path, 2)
    charts_on(a, 8)
    bundle_of(a, tmp_path / "usb.cmb")
    data = bytearray((tmp_path / "usb.cmb").read_bytes())
    data[int(len(data) * where)] ^= 0x01
    (tmp_path / "bad.cmb").write_bytes(bytes(data))
    heads = stored_heads(b)

    with pytest.raises(BundleRefused):
        _import(b.path, tmp_path / "bad.cmb")

    assert stored_heads(b) == heads


def test_a_truncated_bundle_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    charts_on(a, 8)
    bundle_of(a, tmp_path / "usb.cmb")
    data = (tmp_path / "usb.cmb").read_bytes()
    heads = stored_heads(b)
    for cut in (len(data) - 1, len(data) - 70, len(data) // 2, 30):
        (tmp_path / "cut.cmb").write_bytes(data[:cut])
        _refused(b.path, tmp_path / "cut.cmb", "cut short")
    assert stored_heads(b) == heads


def test_a_bundle_of_another_mesh_is_refused(tmp_path: Path) -> None:
    _, b = make_mesh(tmp_path / "ours", 2)
    (other,) = make_mesh(tmp_path / "theirs", 1)
    charts_on(other, 2)
    bundle_of(other, tmp_path / "theirs.cmb")
    heads = stored_heads(b)

    _refused(b.path, tmp_path / "theirs.cmb", "another mesh")

    assert stored_heads(b) == heads


def test_a_file_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    _, b = make_mesh(tmp_path, 2)
    (tmp_path / "notes.txt").write_text("shopping list\n")
    _refused(b.path, tmp_path / "notes.txt", "not a clinicmesh bundle")


def test_a_bundle_from_a_device_off_the_roster_is_refused(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    # A device that holds the mesh key but was never rostered (a copied key file, say).
    outsider = identity.init_data_dir(tmp_path / "outsider", device_name="outsider")
    shutil.copyfile(a.path / identity.MESH_KEY_FILE, outsider.path / identity.MESH_KEY_FILE)
    config_path = outsider.path / identity.CONFIG_FILE
    config = json.loads(config_path.read_text())
    config["mesh_id"] = a.identity.mesh_id
    config_path.write_text(json.dumps(config))
    outsider = identity.load_data_dir(outsider.path)
    charts_on(outsider, 2)
    bundle_of(outsider, tmp_path / "outsider.cmb")
    heads = stored_heads(b)

    _refused(b.path, tmp_path / "outsider.cmb", "not on this device's roster")

    assert stored_heads(b) == heads


def test_a_bundle_from_a_revoked_device_is_refused(tmp_path: Path) -> None:
    admin, lost = make_mesh(tmp_path, 2)  # the first device founded the mesh: an admin device
    charts_on(lost, 2)
    bundle_of(lost, tmp_path / "lost-laptop.cmb")
    revoke_on(admin, lost.identity.device_id)
    heads = stored_heads(admin)

    _refused(admin.path, tmp_path / "lost-laptop.cmb", "revoked")

    assert stored_heads(admin) == heads


def test_a_bundle_of_many_frames_round_trips_and_refuses_a_dropped_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bundle_format, "FRAME_BYTES", 1024)  # many frames from a few charts
    a, b = make_mesh(tmp_path, 2)
    docs = charts_on(a, 10)
    made = bundle_of(a, tmp_path / "usb.cmb")
    assert made["bytes"] > 5 * 1024
    data = (tmp_path / "usb.cmb").read_bytes()
    header_end = 12 + int.from_bytes(data[8:12], "big")
    frame = 4 + 1024 + bundle_format.TAG_BYTES
    (tmp_path / "gap.cmb").write_bytes(data[:header_end + frame] + data[header_end + 2 * frame:])
    with pytest.raises(BundleRefused):
        _import(b.path, tmp_path / "gap.cmb")

    done = _import(b.path, tmp_path / "usb.cmb")

    assert done["changed"] == made["documents"] - 1  # all but the shared directory
    on_b = stored_heads(b)
    assert all(on_b[doc_id] == tuple(doc.heads()) for doc_id, doc in docs.items())
