"""The reference side of scripts/bench/compare: express-pouchdb (a CouchDB-protocol server) and
a PouchDB replica, both on LevelDB, each a `node` process. The npm packages are pinned by
compare_js/package-lock.json and installed with `npm ci` into a cache directory named after the
lock file's hash, so a second run reuses them."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

JS = Path(__file__).resolve().parent / "compare_js"
NPM_TIMEOUT_S = 600
START_TIMEOUT_S = 30
BULK_BATCH = 500


class ReferenceUnavailable(RuntimeError):
    """node or npm is missing, or the pinned packages could not be installed."""


def install(cache_root: Path | None = None) -> Path:
    """The node_modules directory of the pinned packages, installed on first use."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise ReferenceUnavailable(f"`{tool}` is not on PATH (Debian: apt-get install npm)")
    lock = (JS / "package-lock.json").read_bytes()
    root = cache_root or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    target = root / "clinicmesh" / f"compare_js-{hashlib.sha256(lock).hexdigest()[:16]}"
    modules = target / "node_modules"
    if (target / "installed").exists():
        return modules
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(JS / name, target / name)
    # No install scripts: leveldown's only one picks a prebuilt binary that its package ships.
    done = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                          cwd=target, capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                          check=False)
    if done.returncode != 0:
        raise ReferenceUnavailable(f"npm ci failed ({done.returncode}):\n{done.stderr[-3000:]}")
    (target / "installed").write_text("ok\n")
    return modules


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


class NodeProcess:
    """`node SCRIPT ARGS` whose stdout JSON lines are queued, each with the time it was read."""

    def __init__(self, modules: Path, script: str, *args: str, log: Path) -> None:
        env = {**os.environ, "NODE_PATH": str(modules)}
        self._log = log.open("w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(["node", str(JS / script), *args], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=self._log)
        self.lines: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._log_path = log
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.perf_counter(), json.loads(line)))

    def next_line(self, timeout_s: float) -> tuple[float, dict[str, Any]]:
        try:
            return self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise RuntimeError(f"{self._log_path.name}: no answer in {timeout_s} s (exit "
                               f"{self.process.poll()}):\n{self._log_path.read_text()[-3000:]}")\
                from None

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def http(port: int, method: str, path: str, body: Any = None) -> Any:
    """One JSON request straight to the server (not through the proxy)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class Reference:
    """The server loaded with the charts, and the replica once started."""

    def __init__(self, modules: Path, root: Path) -> None:
        self.modules, self.root = modules, root
        (root / "server").mkdir(parents=True)
        self.server = NodeProcess(modules, "server.js", str(root / "server"),
                                  log=root / "server.log")
        self.port = int(self.server.next_line(START_TIMEOUT_S)[1]["port"])
        self.client: NodeProcess | None = None
        self.revs: dict[str, str] = {}
        self.docs: dict[str, dict[str, Any]] = {}

    def load(self, docs: dict[str, dict[str, Any]]) -> None:
        """Store the documents on the server (as `_bulk_docs` batches, straight, unmeasured)."""
        http(self.port, "PUT", "/charts")
        items = list(docs.items())
        for start in range(0, len(items), BULK_BATCH):
            batch = [{"_id": doc_id, **body} for doc_id, body in items[start:start + BULK_BATCH]]
            for answer in http(self.port, "POST", "/charts/_bulk_docs", {"docs": batch}):
                if not answer.get("ok"):
                    raise RuntimeError(f"the server refused {answer}")
                self.revs[answer["id"]] = answer["rev"]
        self.docs = docs

    def replicate(self, via_port: int, timeout_s: float) -> tuple[float, int]:
        """Start the replica pulling through `via_port`; seconds from its start until its initial
        replication completed, and how many documents it then held."""
        url = f"http://127.0.0.1:{via_port}/charts"
        self.client = NodeProcess(self.modules, "client.js", url, str(self.root / "replica"),
                                  log=self.root / "client.log")
        at, line = self.client.next_line(timeout_s)
        return at - self.client.started, int(line["doc_count"])

    def edit(self, doc_id: str, entry_id: str, entry: dict[str, Any], timeout_s: float) -> float:
        """Add an entry to a chart on the server; ms until the replica has written that revision."""
        assert self.client is not None
        body = {**self.docs[doc_id], "_rev": self.revs[doc_id]}
        body["entries"] = {**body["entries"], entry_id: entry}
        started = time.perf_counter()
        rev = http(self.port, "PUT", f"/charts/{doc_id}", body)["rev"]
        self.revs[doc_id], self.docs[doc_id] = rev, {k: v for k, v in body.items() if k != "_rev"}
        deadline = started + timeout_s
        while True:
            at, line = self.client.next_line(max(0.0, deadline - time.perf_counter()))
            if line.get("id") == doc_id and line.get("rev") == rev:
                return (at - started) * 1000

    def stop(self) -> None:
        if self.client is not None:
            self.client.stop()
        self.server.stop()
