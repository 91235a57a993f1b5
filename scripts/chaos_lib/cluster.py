"""The soak's nodes: one namespace, data dir and `meshd run` (mDNS, no --peer) per device.

A node can be SIGKILLed and restarted on the same data dir, or SIGSTOPped and CONTinued. Its
log is a file in its data dir that every incarnation appends to, so a traceback printed by a
node that was killed later is still read at the end. CPU seconds are read from /proc just
before a process goes away and summed over its incarnations.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from netns import Host, NetnsRig, Process, wait_until
from sync_procs import make_mesh

from chaos_lib.nsclient import NodeApi
from chaos_lib.snapshot import meshd_argv, meshd_env
from meshd import identity
from meshd.store import queries
from meshd.store.schema import connect

SUBNET = "10.231.77"
API_PORT = 7700
PEER_PORT = 7701
START_S = 30.0
STOP_S = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOG_FILE = "chaos-node.log"


@dataclass
class Node:
    """One device of the clinic."""

    index: int
    host: Host
    data: identity.DataDir
    api: NodeApi
    code: Path  # the frozen copy of the project every incarnation runs
    process: Process | None = None
    stopped: bool = False  # SIGSTOPped right now
    cpu_s: float = 0.0  # of incarnations that have ended
    starts: int = 0

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def log_path(self) -> Path:
        return self.data.path / LOG_FILE

    @property
    def up(self) -> bool:
        """Running (maybe stopped) right now."""
        return self.process is not None and self.process.popen.poll() is None

    def start(self, *, wait: bool = True) -> None:
        """Start `meshd run` on its data dir; with `wait`, until the API answers (bounded)."""
        argv = [*meshd_argv(), "run", "--data-dir", str(self.data.path), "--host",
                str(self.host.ipv4), "--api-port", str(API_PORT), "--peer-port", str(PEER_PORT)]
        command = shlex.join(argv)
        with self.log_path.open("a") as log:
            log.write(f"==== chaos: start #{self.starts + 1} at {time.time():.3f}\n")
        # exec: the namespaced pid is meshd itself, so signals reach it and /proc counts it.
        log_file = shlex.quote(str(self.log_path))
        self.process = self.host.spawn("sh", "-c", f"exec {command} >>{log_file} 2>&1",
                                       env=meshd_env(self.code))
        self.starts += 1
        self.stopped = False
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout_s: float = START_S) -> None:
        """Until the API answers; TimeoutError naming the node otherwise."""
        wait_until(lambda: self.api.call("GET", "/api/v1/health", timeout_s=1.0).ok,
                   timeout_s=timeout_s, what=f"{self.name}'s API")

    def pid(self) -> int | None:
        return self.process.popen.pid if self.up and self.process else None

    def cpu_now(self) -> float:
        """CPU seconds of the running incarnation (0 when none)."""
        pid = self.pid()
        if pid is None:
            return 0.0
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def kill(self) -> None:
        """SIGKILL: no clean shutdown at all."""
        if self.process is None:
            return
        self.cpu_s += self.cpu_now()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.popen.pid, signal.SIGKILL)
        self.process.popen.wait(timeout=STOP_S)
        self.process = None
        self.stopped = False

    def pause(self) -> None:
        """SIGSTOP: the process stays, frozen, its sockets open."""
        if self.up and self.process:
            os.killpg(self.process.popen.pid, signal.SIGSTOP)
            self.stopped = True

    def resume(self) -> None:
        """SIGCONT after pause()."""
        if self.up and self.process:
            os.killpg(self.process.popen.pid, signal.SIGCONT)
        self.stopped = False

    def stop(self) -> int | None:
        """SIGTERM (SIGKILL after a bound); the exit status, None when it was not running."""
        if self.process is None:
            return None
        self.resume()
        self.cpu_s += self.cpu_now()
        status = self.process.stop(timeout_s=STOP_S)
        self.process = None
        return status

    def store_heads(self) -> dict[str, tuple[str, ...]]:
        """Every stored document's heads, read over a second connection as `meshd status` does."""
        key = identity.load_store_key(self.data)
        conn = connect(self.data.store_path, key, create=False)
        try:
            return {d: tuple(sorted(h.hex() for h in heads))
                    for d, heads in queries.heads(conn, "").items()}
        finally:
            conn.close()

    def projected_stock(self, facility_doc: str) -> dict[str, object]:
        """The store's stock projection rows of the facility (drug id -> StockRow)."""
        key = identity.load_store_key(self.data)
        conn = connect(self.data.store_path, key, create=False)
        try:
            return dict(queries.stock_levels(conn, facility_doc))
        finally:
            conn.close()


def build(rig: NetnsRig, root: Path, count: int, code: Path) -> list[Node]:
    """`count` nodes of one mesh and facility on the rig's bridge, running `code` (not started)."""
    datas = make_mesh(root, count)
    nodes = []
    for i, data in enumerate(datas):
        host = rig.add_host(f"n{i}", ipv4=f"{SUBNET}.{10 + i}/24", ipv6=False)
        api = NodeApi(host.netns, str(host.ipv4), API_PORT)
        api.token = data.api_token
        nodes.append(Node(i, host, data, api, code))
    return nodes


def connected_peers(node: Node) -> set[str]:
    """Names of the devices this node has a live sync session with (empty if it can't say)."""
    answer = node.api.call("GET", "/api/v1/sync/status", timeout_s=2.0)
    if not answer.ok:
        return set()
    return {str(p.get("device_name")) for p in answer.body.get("peers", []) if p.get("connected")}
