"""`meshd init`, `run` and `status` as real processes on ephemeral ports."""

from __future__ import annotations

import json
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

from meshd_procs import meshd
from node_helpers import RunningNode

PATIENT = {
    "given_name": "Kofi", "family_name": "Mensah", "sex": "male", "estimated_age_years": 40,
}
START_BUDGET_S = 3.0


def test_init_creates_a_device_with_private_secrets(tmp_path: Path) -> None:
    data_dir = tmp_path / "desk"
    result = meshd("init", "--data-dir", str(data_dir), "--name", "desk-1",
                   "--facility", "Hilltop Clinic")
    assert result.returncode == 0, result.stderr
    device = json.loads(result.stdout)["device"]
    config = json.loads((data_dir / "node.json").read_text())
    assert config["device_id"] == device
    assert config["device_name"] == "desk-1"
    assert config["facility_name"] == "Hilltop Clinic"
    for secret in ("device.key", "mesh.key", "api-token", "store.key"):
        assert stat.S_IMODE((data_dir / secret).stat().st_mode) == 0o600, secret
    again = meshd("init", "--data-dir", str(data_dir), "--name", "other")
    assert again.returncode == 1
    assert "not empty" in again.stderr


def test_init_with_a_passphrase_needs_it_to_run(tmp_path: Path,
                                                run_node: Callable[..., RunningNode]) -> None:
    data_dir = tmp_path / "locked"
    secret = tmp_path / "pass"
    secret.write_text("correct horse\n")
    assert meshd("init", "--data-dir", str(data_dir), "--name", "x",
                 "--passphrase-file", str(secret)).returncode == 0
    before_run = meshd("status", "--data-dir", str(data_dir), "--json")
    assert json.loads(before_run.stdout)["integrity"] == "empty"  # no store yet, no key needed
    node = run_node(data_dir, "--passphrase-file", str(secret))
    assert node.stop() == 0
    assert meshd("status", "--data-dir", str(data_dir), "--json").returncode == 1
    ok = meshd("status", "--data-dir", str(data_dir), "--json", "--passphrase-file", str(secret))
    assert ok.returncode == 0, ok.stderr


def test_first_run_on_an_empty_dir_starts_persists_and_stops_cleanly(
    tmp_path: Path, run_node: Callable[..., RunningNode]
) -> None:
    data_dir = tmp_path / "fresh"
    began = time.monotonic()
    node = run_node(data_dir)
    assert time.monotonic() - began < START_BUDGET_S + 3.0  # includes first-run key generation
    status, body = node.call("POST", "/api/v1/patients", PATIENT)
    assert status == 201
    patient_id = body["id"]
    assert node.call("GET", "/api/v1/patients", token="wrong")[0] == 401

    report = meshd("status", "--data-dir", str(data_dir), "--json", "--check")
    assert report.returncode == 0, report.stderr
    lines = report.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["counts"]["charts"] == 1
    assert summary["integrity"] == "ok"
    assert summary["running"]["api_port"] == node.port
    assert summary["running"]["peer_port"] > 0  # the bound port, though 0 was asked for
    assert summary["sync"]["peers"] == []  # live from the node: nobody to sync with yet

    assert node.stop() == 0
    assert not (data_dir / "run.json").exists()
    stopped = json.loads(meshd("status", "--data-dir", str(data_dir), "--json").stdout)
    assert stopped["running"] is None and stopped["sync"] is None
    assert stopped["integrity"] == "not checked"  # the full check is asked for with --check

    began = time.monotonic()
    again = run_node(data_dir)
    assert time.monotonic() - began < START_BUDGET_S
    status, chart = again.call("GET", f"/api/v1/patients/{patient_id}")
    assert status == 200
    assert chart["demographics"]["given_name"] == "Kofi"
    assert again.stop() == 0


def test_status_of_a_missing_data_dir_says_what_to_do(tmp_path: Path) -> None:
    result = meshd("status", "--data-dir", str(tmp_path / "nothing"), "--json")
    assert result.returncode == 1
    assert "meshd init" in result.stderr


def test_sigint_stops_a_running_node_cleanly(tmp_path: Path,
                                             run_node: Callable[..., RunningNode]) -> None:
    node = run_node(tmp_path / "desk")
    node.process.send_signal(signal.SIGINT)
    assert node.process.wait(timeout=10) == 0
    assert not (tmp_path / "desk" / "run.json").exists()
    output = node.process.stdout.read() if node.process.stdout else ""
    assert "Traceback" not in output
