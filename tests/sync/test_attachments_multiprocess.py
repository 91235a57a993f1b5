"""Attachments between real `meshd` processes: a 2 MB scan added on one node reaches the other
after the chart (fetched in the background over the peer session), is served there byte for
byte, and is not inside the chart's Automerge document; a 30 MB file is refused with 413."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow

PATIENT = {"given_name": "Neema", "family_name": "Mwangi", "sex": "female",
           "birth_date": "1987-06-12"}
TWO_MB = 2 * 1024 * 1024
THIRTY_MB = 30 * 1024 * 1024
UPLOAD_TIMEOUT_S = 60.0
# The chart of a patient with one attachment: a few kB of Automerge, whatever the file's size.
MAX_CHART_BYTES = 64 * 1024


def _upload(node: MeshdProcess, patient: str, data: bytes, content_type: str,
            name: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{node.api_port}/api/v1/patients/{patient}/attachments?name={name}",
        method="POST", data=data,
        headers={"Authorization": f"Bearer {node.data.api_token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_S) as response:
            return response.status, dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return exc.code, dict(json.loads(exc.read()))


def _attachments(node: MeshdProcess, patient: str) -> list[dict[str, Any]]:
    status, chart = node.call("GET", f"/api/v1/patients/{patient}")
    return list(chart["attachments"]) if status == 200 else []


def test_a_2_mb_scan_reaches_the_other_node_beside_the_chart_not_inside_it(
    tmp_path: Path, procs: list[MeshdProcess],
) -> None:
    a_dir, b_dir = make_mesh(tmp_path, 2)
    a = MeshdProcess(a_dir).start([])
    procs.append(a)
    b = MeshdProcess(b_dir).start([a.peer_address])
    procs.append(b)
    status, body = a.call("POST", "/api/v1/patients", PATIENT)
    assert status == 201, body
    patient = str(body["id"])
    scan = os.urandom(TWO_MB)
    status, added = _upload(a, patient, scan, "application/pdf", "referral.pdf")
    assert status == 201, added
    assert added["sha256"] == hashlib.sha256(scan).hexdigest() and added["size"] == TWO_MB

    # The chart arrives with the reference; the bytes follow, fetched in the background.
    [listed] = eventually(lambda: _attachments(b, patient), what="the chart on B")
    assert (listed["sha256"], listed["size"], listed["name"]) == (
        added["sha256"], TWO_MB, "referral.pdf")
    eventually(lambda: b.sync_status()["attachments"]["fetched"] == 1,
               what="B fetching the blob in the background")
    status, served = b.call("GET", f"/api/v1/attachments/{added['sha256']}")
    assert status == 200 and served == scan

    # Not inside the chart document: it stays small and holds none of the file's bytes.
    for node in (a, b):
        status, doc = node.call("GET", f"/api/v1/docs/chart:{patient}/automerge")
        assert status == 200 and len(doc) < MAX_CHART_BYTES
        assert scan[:64] not in doc and scan[TWO_MB // 2:TWO_MB // 2 + 64] not in doc
    assert a.sync_status()["attachments"]["refused"] == 0

    # A 30 MB file is refused on either node, with a message that says the sizes.
    status, refused = _upload(b, patient, bytes(THIRTY_MB), "image/jpeg", "x-ray.jpg")
    assert status == 413
    assert refused["error"] == "too_large" and refused["field"] == "file"
    assert "30.0 MB" in refused["message"] and "20.0 MB" in refused["message"]
    assert len(_attachments(b, patient)) == 1


def test_a_node_that_joins_later_gets_the_blob_from_its_only_peer(
    tmp_path: Path, procs: list[MeshdProcess],
) -> None:
    a_dir, b_dir = make_mesh(tmp_path, 2)
    a = MeshdProcess(a_dir).start([])
    procs.append(a)
    status, body = a.call("POST", "/api/v1/patients", PATIENT)
    patient = str(body["id"])
    photo = os.urandom(300_000)
    status, added = _upload(a, patient, photo, "image/jpeg", "face.jpg")
    assert status == 201, added
    b = MeshdProcess(b_dir).start([a.peer_address])
    procs.append(b)
    eventually(lambda: _attachments(b, patient), what="the chart on B")
    status, served = b.call("GET", f"/api/v1/attachments/{added['sha256']}")
    assert status == 200 and served == photo
