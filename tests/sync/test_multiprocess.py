"""Real `meshd` processes on loopback converge through the sync engine."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from chart_pairs import false_positive_pair
from meshd_procs import MESHD, eventually
from sync_procs import MeshdProcess, make_mesh, seed_charts, store_docs

pytestmark = pytest.mark.slow

PATIENT = {"given_name": "Amina", "family_name": "Otieno", "sex": "female",
           "birth_date": "1990-04-02"}


def _register(node: MeshdProcess, **extra: Any) -> str:
    status, body = node.call("POST", "/api/v1/patients", {**PATIENT, **extra})
    assert status == 201, body
    return str(body["id"])


def _heads(node: MeshdProcess, patient_id: str) -> list[str] | None:
    status, body = node.call("GET", f"/api/v1/docs/chart:{patient_id}/heads")
    return list(body["heads"]) if status == 200 else None


def _texts(value: Any) -> list[str]:
    """Every string anywhere in a JSON value."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return [value] if isinstance(value, str) else []


def test_two_nodes_converge_on_concurrent_edits(tmp_path: Path, procs: list[MeshdProcess]
                                                ) -> None:
    a_dir, b_dir = make_mesh(tmp_path, 2)
    a = MeshdProcess(a_dir).start([])
    procs.append(a)
    b = MeshdProcess(b_dir).start([a.peer_address])
    procs.append(b)
    from_a, from_b = _register(a), _register(b, given_name="Baraka")
    eventually(lambda: _heads(b, from_a) and _heads(a, from_b))

    for node, note in ((a, "seen at triage"), (b, "seen at the lab")):
        status, body = node.call("POST", f"/api/v1/patients/{from_a}/notes", {"text": note})
        assert status == 201, body
    eventually(lambda: _heads(a, from_a) == _heads(b, from_a))
    chart_a = a.call("GET", f"/api/v1/patients/{from_a}")[1]
    chart_b = b.call("GET", f"/api/v1/patients/{from_a}")[1]
    assert chart_a == chart_b
    assert {"seen at triage", "seen at the lab"} <= set(_texts(chart_a))
    peers = a.sync_status()["peers"]
    assert [p["device_name"] for p in peers if p["connected"]] == ["node-1"]


def test_a_concurrent_name_edit_becomes_one_review_item_on_both_nodes(
    tmp_path: Path, procs: list[MeshdProcess]
) -> None:
    a_dir, b_dir = make_mesh(tmp_path, 2)
    a = MeshdProcess(a_dir).start([])
    procs.append(a)
    patient = _register(a)
    b = MeshdProcess(b_dir).start([a.peer_address])
    procs.append(b)
    eventually(lambda: _heads(b, patient))
    b.stop()

    # Apart: A renames while B is down, then B renames while it can't reach A.
    rename = f"/api/v1/patients/{patient}/demographics"
    assert a.call("POST", rename, {"given_name": "Aminah"})[0] == 200
    b.start([])
    assert b.call("POST", rename, {"given_name": "Amina Wanjiru"})[0] == 200
    b.stop()
    b.start([a.peer_address])
    eventually(lambda: _heads(a, patient) == _heads(b, patient))

    reviews = [node.call("GET", f"/api/v1/patients/{patient}")[1]["review"] for node in (a, b)]
    assert reviews[0] == reviews[1]
    (item,) = reviews[0]
    assert item["field"] == "given_name"
    assert {c["value"] for c in item["candidates"]} == {"Aminah", "Amina Wanjiru"}

    status = subprocess.run([str(MESHD), "status", "--data-dir", str(a.data.path), "--json"],
                            capture_output=True, text=True, timeout=60, check=True)
    peers = json.loads(status.stdout)["sync"]["peers"]
    assert [p["device_name"] for p in peers if p["connected"]] == ["node-1"]


def test_five_nodes_in_a_line_converge_end_to_end(tmp_path: Path, procs: list[MeshdProcess]
                                                  ) -> None:
    dirs = make_mesh(tmp_path, 5)
    nodes = [MeshdProcess(d) for d in dirs]
    nodes[0].start([])
    procs.append(nodes[0])
    for before, node in itertools.pairwise(nodes):
        node.start([before.peer_address])
        procs.append(node)
    first, last = nodes[0], nodes[-1]
    from_first, from_last = _register(first), _register(last, given_name="Juma")
    eventually(lambda: all(_heads(n, from_first) == _heads(first, from_first) for n in nodes))
    eventually(lambda: all(_heads(n, from_last) == _heads(last, from_last) for n in nodes))
    assert not any(p["address"] == first.peer_address for p in last.sync_status()["peers"])


CHARTS = 1500


def test_killed_mid_bulk_sync_then_restarted_completes(tmp_path: Path,
                                                       procs: list[MeshdProcess]) -> None:
    full_dir, empty_dir = make_mesh(tmp_path, 2)
    seed_charts(full_dir, CHARTS)
    full = MeshdProcess(full_dir).start([])
    procs.append(full)
    expected = full.sync_status()["documents"]["count"]
    assert expected >= CHARTS

    empty = MeshdProcess(empty_dir).start([full.peer_address])
    procs.append(empty)
    eventually(lambda: 0 < empty.sync_status()["documents"]["count"] < expected, 30)
    empty.kill()
    empty.start([full.peer_address])
    eventually(lambda: empty.sync_status()["documents"]["count"] == expected, 60)
    assert empty.sync_status()["quarantined"] == 0


def test_a_chart_with_a_bloom_false_positive_converges_then_goes_quiet(
    tmp_path: Path, procs: list[MeshdProcess]
) -> None:
    behind, ahead, _ = false_positive_pair(random.Random(5))
    doc_id = str(behind.get(("id",)))
    a_dir, b_dir = make_mesh(tmp_path, 2)
    store_docs(a_dir, {doc_id: behind})
    store_docs(b_dir, {doc_id: ahead})
    b = MeshdProcess(b_dir).start([])
    procs.append(b)
    a = MeshdProcess(a_dir).start([b.peer_address])
    procs.append(a)

    def heads(node: MeshdProcess) -> Any:
        return node.call("GET", f"/api/v1/docs/{doc_id}/heads")[1]["heads"]

    eventually(lambda: heads(a) == heads(b), timeout_s=20)

    def sync_messages() -> list[int]:
        return [p["sync_messages_in"] for n in (a, b) for p in n.sync_status()["peers"]]

    def settled() -> list[int] | None:
        before = sync_messages()
        time.sleep(0.5)  # the last acknowledgements may still be on their way
        return before if before == sync_messages() and sum(before) else None

    quiet = eventually(settled, timeout_s=10, what="sync messages stop")
    time.sleep(3)  # a stranded chart was exchanged thousands of times a second
    assert sync_messages() == quiet
