"""The CLI's line to the node running on a data dir: its JSON API with the data dir's token.

A running node owns the store and caches documents, so verbs that change documents (`invite`,
`pair`, `revoke`) and verbs that report live state (`status`) go through it when it runs.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from crdt_model.errors import ClinicMeshError
from meshd.identity import read_api_token
from meshd.node import running_node

NODE_TIMEOUT_S = 15.0


class NodeRefused(ClinicMeshError):
    """The running node answered with an error, or did not answer; `code` says which."""

    code = "node_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NodeApi:
    """The JSON API of the node running on a data dir."""

    def __init__(self, token: str, record: dict[str, object]) -> None:
        host = str(record.get("host") or "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        self.base = f"http://{f'[{host}]' if ':' in host else host}:{record.get('api_port')}"
        self._token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             timeout_s: float = NODE_TIMEOUT_S) -> dict[str, Any]:
        """One request; the JSON answer, or the node's error as NodeRefused."""
        data = None if body is None else json.dumps(body).encode()
        return self.send(method, path, data, {"Content-Type": "application/json"}, timeout_s)

    def send(self, method: str, path: str, data: Any, headers: dict[str, str],
             timeout_s: float = NODE_TIMEOUT_S) -> dict[str, Any]:
        """One request with a body of any kind (bytes or a file); the JSON answer, or the
        node's error as NodeRefused."""
        request = urllib.request.Request(
            self.base + path, method=method, data=data,
            headers={"Authorization": f"Bearer {self._token}", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())
                message, code = str(error["message"]), str(error["error"])
            except (ValueError, KeyError, TypeError):
                message, code = f"the node answered {exc.code}", "node_error"
            raise NodeRefused(message, code) from None
        except (OSError, ValueError) as exc:
            raise NodeRefused(
                f"the node running on this data dir did not answer at {self.base} ({exc})",
                "node_unreachable",
            ) from None


def node_api(data_dir: Path) -> NodeApi | None:
    """The API of the node running on a data dir (None when no node runs on it); no
    passphrase is needed to talk to it."""
    record = running_node(data_dir)
    return NodeApi(read_api_token(data_dir), record) if record is not None else None
