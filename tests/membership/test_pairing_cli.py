"""Pairing by code end to end with real `meshd` processes on loopback (`--peer`, no mDNS)."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path

from membership_procs import Meshd
from meshd_procs import MESHD, eventually, meshd

CODE_LINE_TIMEOUT_S = 20.0


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """Every stdout line of `process`, read by a thread (None at the end)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _code_from(lines: queue.Queue[str | None]) -> str:
    while True:
        line = lines.get(timeout=CODE_LINE_TIMEOUT_S)
        assert line is not None, "meshd pair ended before showing a code"
        if line.startswith("Pairing code: "):
            return line.removeprefix("Pairing code: ").strip()


def test_a_device_joined_by_code_syncs_a_patient_registered_on_the_inviter(
    tmp_path: Path, procs: list[Meshd]
) -> None:
    assert meshd("init", "--data-dir", str(tmp_path / "a"), "--name", "reception").returncode == 0
    a = Meshd(tmp_path / "a").start()
    procs.append(a)
    patient = a.register()
    qr = tmp_path / "invite.svg"
    pair = subprocess.Popen(
        [str(MESHD), "pair", "--data-dir", str(a.data_dir), "--qr-out", str(qr)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        code = _code_from(_lines(pair))
        joined = meshd("join", "--data-dir", str(tmp_path / "b"), "--code", code,
                       "--peer", a.peer_address, "--name", "triage tablet")
        assert joined.returncode == 0, joined.stderr
        assert pair.wait(timeout=CODE_LINE_TIMEOUT_S) == 0
    finally:
        if pair.poll() is None:
            pair.kill()
        pair.communicate(timeout=10)
    assert qr.read_text().lstrip().startswith("<?xml")
    device = json.loads(joined.stdout)
    assert device["name"] == "triage tablet" and device["inviter"] == a.peer_address

    b = Meshd(tmp_path / "b").start()  # node.json keeps the inviter as a peer to dial
    procs.append(b)
    eventually(lambda: b.has_patient(patient), what="the patient on the joined device")
    from_b = b.register(given_name="Baraka")
    eventually(lambda: a.has_patient(from_b), what="a patient of the joined device on the inviter")
    roster = json.loads(meshd("devices", "--data-dir", str(a.data_dir), "--json").stdout)
    names = {row["name"]: row for row in roster["devices"]}
    assert names["triage tablet"]["added_by"] == "reception"
    assert names["reception"]["this_device"] and not names["triage tablet"]["revoked"]
