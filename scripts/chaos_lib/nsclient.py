"""The JSON API of one node, called from worker threads that joined the node's namespace.

A network namespace belongs to a thread on Linux, so each worker enters the node's namespace
once (setns) and opens its sockets there. Timeouts are short: a stopped or dead node must fail
fast, and a write that times out is simply not acknowledged.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
WRITE_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
WORKERS = 3  # a node serves a few stations at once, never more than its clinic's staff


def join_namespace(netns: str) -> None:
    """Move the calling thread into network namespace `netns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Answer:
    """One API answer; status 0 means no answer at all (refused, reset, timed out)."""

    status: int
    body: Any
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class NodeApi:
    """`call()` the API at http://address:port as seen from inside namespace `netns`."""

    def __init__(self, netns: str, address: str, port: int) -> None:
        self.base = f"http://{address}:{port}"
        self.token = ""
        self._pool = ThreadPoolExecutor(WORKERS, f"api-{netns}", join_namespace, (netns,))
        self._lock = threading.Lock()
        self.in_flight_writes = 0  # read by the fault injector to kill a node mid-write

    def call(self, method: str, path: str, body: Any = None,
             timeout_s: float | None = None) -> Answer:
        """One request (bounded by timeout_s); never raises for network trouble."""
        if timeout_s is None:
            timeout_s = READ_TIMEOUT_S if method == "GET" else WRITE_TIMEOUT_S
        writing = method != "GET"
        if writing:
            with self._lock:
                self.in_flight_writes += 1
        try:
            return self._pool.submit(self._call, method, path, body, timeout_s).result()
        finally:
            if writing:
                with self._lock:
                    self.in_flight_writes -= 1

    def _call(self, method: str, path: str, body: Any, timeout_s: float) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                raw = response.read()
                kind = response.headers.get_content_type()
                return Answer(response.status, json.loads(raw) if kind.endswith("json") else raw)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return Answer(exc.code, json.loads(raw or b"null"))
            except ValueError:
                return Answer(exc.code, raw)
        except (OSError, ValueError) as exc:  # refused, reset, timeout, a half-written answer
            return Answer(0, None, f"{type(exc).__name__}: {exc}")

    def raw(self, path: str, timeout_s: float = READ_TIMEOUT_S) -> bytes | None:
        """The body of a GET that answers bytes (a saved document), or None on any failure."""
        answer = self.call("GET", path, timeout_s=timeout_s)
        return answer.body if answer.ok and isinstance(answer.body, bytes) else None

    def close(self) -> None:
        """Stop the worker threads (waiting at most for their current request)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
