"""Calling a node's JSON API on 127.0.0.1 *inside* a network namespace, from the test process.

A network namespace belongs to a thread on Linux: a worker thread that has joined the namespace
(setns) opens its sockets there, so the test reaches each node's loopback API directly instead
of spawning `ip netns exec curl` for every poll.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scripts.chaos_lib.nsclient import join_namespace

REQUEST_TIMEOUT_S = 5.0


class NamespaceApi:
    """The API of the node listening on 127.0.0.1:`port` in namespace `netns`."""

    def __init__(self, netns: str, port: int, token: str) -> None:
        self._base = f"http://127.0.0.1:{port}"
        self._token = token
        self._worker = ThreadPoolExecutor(1, f"ns-{netns}", join_namespace, (netns,))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request from inside the namespace; (status, JSON body); OSError if unreachable."""
        return self._worker.submit(self._call, method, path, body).result()

    def _call(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self._base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def answers(self) -> bool:
        """Whether the node's health endpoint answers yet."""
        try:
            return self.call("GET", "/api/v1/health")[0] == 200
        except OSError:
            return False

    def close(self) -> None:
        """Stop the worker thread."""
        self._worker.shutdown(wait=True)
