"""Real `meshd` processes for membership tests: run, call the API, pair by code."""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshd_procs import MESHD, call_api, free_port, stop_process, wait_until_healthy

START_TIMEOUT_S = 20.0
PATIENT = {"given_name": "Amina", "family_name": "Otieno", "sex": "female",
           "birth_date": "1990-04-02"}


@dataclass
class Meshd:
    """A `meshd run` subprocess on loopback and its API."""

    data_dir: Path
    api_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def peer_address(self) -> str:
        return f"127.0.0.1:{self.peer_port}"

    def start(self, *peers: str) -> Meshd:
        """Start `meshd run --no-mdns` and wait (bounded) until its API answers."""
        args = [str(MESHD), "run", "--data-dir", str(self.data_dir), "--api-port",
                str(self.api_port), "--peer-port", str(self.peer_port), "--no-mdns"]
        for peer in peers:
            args += ["--peer", peer]
        with (self.data_dir.parent / f"{self.data_dir.name}.log").open("a") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
        wait_until_healthy(self.process, lambda: self.call("GET", "/api/v1/health")[0] == 200,
                           self.log, START_TIMEOUT_S)
        return self

    def log(self) -> str:
        return (self.data_dir.parent / f"{self.data_dir.name}.log").read_text()[-4000:]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API request; (status, JSON body)."""
        token = (self.data_dir / "api-token").read_text().strip()
        status, _, raw = call_api(self.api_port, token, method, path, body)
        return status, json.loads(raw or b"null")

    def register(self, **extra: Any) -> str:
        status, body = self.call("POST", "/api/v1/patients", {**PATIENT, **extra})
        assert status == 201, body
        return str(body["id"])

    def has_patient(self, patient_id: str) -> bool:
        return self.call("GET", f"/api/v1/patients/{patient_id}")[0] == 200

    def connected(self) -> int:
        status, body = self.call("GET", "/api/v1/sync/status")
        assert status == 200, body
        return sum(1 for peer in body["peers"] if peer.get("connected"))

    def open_pairing(self, **body: Any) -> str:
        status, answer = self.call("POST", "/api/v1/pairing", body)
        assert status == 201, answer
        return str(answer["code"])

    def pairing_state(self) -> dict[str, Any]:
        status, body = self.call("GET", "/api/v1/pairing")
        assert status == 200, body
        return dict(body)

    def stop(self) -> None:
        """SIGTERM and wait (bounded); SIGKILL if it hangs."""
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # killed: the test goes on
                stop_process(self.process)
