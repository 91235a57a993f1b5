"""A real `meshd run` for the node tests: started on a free port, its API called with its token."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshd_procs import MESHD, call_api, free_port, stop_process, wait_until_healthy

START_TIMEOUT_S = 15.0


@dataclass
class RunningNode:
    """A `meshd run` subprocess and how to talk to it."""

    process: subprocess.Popen[str]
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        """The API base URL."""
        return f"http://127.0.0.1:{self.port}"

    def token(self) -> str:
        """The API token of its data dir."""
        return (self.data_dir / "api-token").read_text().strip()

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             ) -> tuple[int, Any]:
        """One API request; (status, JSON body)."""
        status, _, raw = call_api(self.port, token or self.token(), method, path, body)
        return status, json.loads(raw)

    def stop(self) -> int:
        """SIGTERM, wait (bounded), return the exit code."""
        return stop_process(self.process)

    def healthy(self) -> bool:
        """Whether /api/v1/health answers 200."""
        with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1) as response:
            return bool(response.status == 200)


def start_node(data_dir: Path, *extra: str) -> RunningNode:
    """Start `meshd run` on a free port and wait until /api/v1/health answers."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [str(MESHD), "run", "--data-dir", str(data_dir), "--api-port", str(port),
         "--peer-port", str(free_port()), "--no-mdns", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    node = RunningNode(process, data_dir, port)
    wait_until_healthy(process, node.healthy,
                       lambda: process.stdout.read() if process.stdout else "", START_TIMEOUT_S)
    return node
