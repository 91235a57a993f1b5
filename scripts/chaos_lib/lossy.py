"""Delay and loss on the soak's links, without netem: in every node's namespace an nft rule
redirects the node's outgoing sync connections through a lossy_link.py proxy, on from the start
so that every session crosses one; a `lossy` fault then writes the node's delay and loss into
the proxies' shared control file (a link is impaired when either end is), and drops that share
of the mDNS datagrams the node receives (an nft `numgen random` rule: multicast has no path a
proxy could sit on). Healing removes the entry and the rule.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

from netns import RigError

from chaos_lib.cluster import PEER_PORT, Node

PROXY_PORT = 7790
MARK = 0x77
PROXY = Path(__file__).resolve().with_name("lossy_link.py")


def _ruleset(own_ip: str) -> str:
    return f"""table ip chaos {{
    chain out {{
        type nat hook output priority -100; policy accept;
        meta mark {MARK:#x} return
        ip daddr != {own_ip} tcp dport {PEER_PORT} redirect to :{PROXY_PORT}
    }}
    chain mdns_in {{
        type filter hook input priority 0; policy accept;
    }}
}}
"""


class LossyLinks:
    """The proxies of every node and the control file they read."""

    def __init__(self, nodes: list[Node], workdir: Path, seed: int) -> None:
        if shutil.which("nft") is None:
            raise RigError("the delay/loss proxy needs nft (Debian: apt-get install nftables)")
        self.nodes = nodes
        self.control = workdir / "impair.json"
        self._table: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._write()
        for node in nodes:
            ip = str(node.host.ipv4)
            rules = workdir / f"nft-{node.name}.conf"
            rules.write_text(_ruleset(ip))
            node.host.run("nft", "-f", str(rules))
            proxy = node.host.spawn(sys.executable, str(PROXY), "--port", str(PROXY_PORT),
                                    "--control", str(self.control), "--own", ip,
                                    "--seed", str(seed * 31 + node.index), "--mark", hex(MARK))
            proxy.wait_for_line(lambda line: "lossy link proxy" in line, timeout_s=20)

    def _write(self) -> None:
        temporary = self.control.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._table))
        os.replace(temporary, self.control)

    def impair(self, node: Node, delay_ms: int, loss: float) -> None:
        with self._lock:
            self._table[str(node.host.ipv4)] = {"delay_ms": delay_ms, "loss": loss}
            self._write()
        node.host.run("nft", "add", "rule", "ip", "chaos", "mdns_in", "udp", "dport", "5353",
                      "numgen", "random", "mod", "1000", "<", str(round(loss * 1000)), "drop")

    def clear(self, node: Node) -> None:
        with self._lock:
            self._table.pop(str(node.host.ipv4), None)
            self._write()
        node.host.run("nft", "flush", "chain", "ip", "chaos", "mdns_in")
