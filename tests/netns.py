"""A real-network test rig: Linux network namespaces on a bridge, for mDNS, partitions and netem.

    with NetnsRig() as rig:                       # needs root and iproute2: see skip_reason()
        a = rig.add_host("a", ipv4="10.231.0.2/24")
        b = rig.add_host("b", ipv4="169.254.7.3/16", ipv6=False)
        proc = a.spawn(sys.executable, "node.py")  # runs inside a's namespace
        proc.wait_for_line(lambda line: "peer" in line, timeout_s=10)
        rig.partition(b); rig.heal(b)
        rig.netem(a, "delay 100ms loss 5%")         # NetemUnavailable: skip the test
        rig.limit_rate(a, "128kbit")                # tbf: works without netem

Each host is a namespace with `lo` up and one veth `eth0` whose peer sits on a bridge that lives
in a namespace of its own, so nothing touches the machine's own interfaces or routes. Only
addresses given by the test are used (keep to 10.231.0.0/16, 169.254.0.0/16 and fe80::/64).
`close()` (run by the `with`, even on failure) kills the processes started in the rig's
namespaces and deletes the namespaces, which removes every veth and the bridge with them.
Namespace names carry the creating pid, so `remove_stale_namespaces()` can clear those of a
crashed run without touching a concurrent one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

RIG_NETWORKS = (ipaddress.IPv4Network("10.231.0.0/16"), ipaddress.IPv4Network("169.254.0.0/16"))
NAME_PREFIX = "cmt"  # every namespace of this rig: cmt<pid>x<random>-<host>
COMMAND_TIMEOUT_S = 20.0
_NAME = re.compile(rf"^{NAME_PREFIX}(\d+)x[0-9a-f]+-")


class RigError(RuntimeError):
    """An `ip`/`tc` command of the rig failed; the message has its stderr."""


class NetemUnavailable(RigError):
    """Link shaping is not possible here (no tc, or a kernel without that qdisc): skip."""


def skip_reason() -> str | None:
    """Why the rig can't run here (not root, no iproute2), or None when it can."""
    if os.geteuid() != 0:
        return "needs root for ip netns"
    if shutil.which("ip") is None:
        return "needs iproute2 (the `ip` command)"
    return None


def _ip(*args: str, timeout_s: float = COMMAND_TIMEOUT_S) -> str:
    return _run(["ip", *args], timeout_s)


def _run(
    argv: Sequence[str], timeout_s: float = COMMAND_TIMEOUT_S, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, env=env)
    if done.returncode != 0:
        raise RigError(f"{' '.join(argv)} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def wait_until(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll `predicate` every 50 ms until true; TimeoutError naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


class Process:
    """A process started in a namespace; its stdout lines are read by a thread into a queue."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None) -> None:
        self.argv = list(argv)
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # so stop() can signal it and its children as a group
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._stderr: list[str] = []
        self._pumps = [
            threading.Thread(target=self._pump, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        with self.popen.stdout:
            for line in self.popen.stdout:
                self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.popen.stderr is not None
        with self.popen.stderr:
            for line in self.popen.stderr:
                self._stderr.append(line)

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        return "".join(self._stderr)

    def wait_for_line(self, predicate: Callable[[str], bool], *, timeout_s: float) -> str:
        """The first new stdout line matching `predicate`; TimeoutError or EOFError otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"no matching line from {self.argv[-1]} in {timeout_s} s; "
                    f"seen {self.seen[-5:]}; stderr {self.stderr[-2000:]}"
                )
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)  # keep reporting EOF to later calls
                raise EOFError(
                    f"{self.argv[-1]} exited; seen {self.seen[-5:]}; stderr {self.stderr[-2000:]}"
                )
            self.seen.append(line)
            if predicate(line):
                return line

    def find_line(self, predicate: Callable[[str], bool], *, timeout_s: float) -> str:
        """The first line ever printed that matches, waiting for new ones up to timeout_s."""
        for line in self.seen:
            if predicate(line):
                return line
        return self.wait_for_line(predicate, timeout_s=timeout_s)

    def stop(self, *, timeout_s: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after timeout_s; returns the exit status. Safe twice."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=timeout_s)
        for pump in self._pumps:
            pump.join(timeout_s)  # they close the pipes at end of file
        return self.popen.returncode


class Host:
    """One namespace on the rig's bridge: `eth0` inside, its bridge port `port` outside."""

    def __init__(self, rig: NetnsRig, name: str, netns: str, port: str) -> None:
        self.rig = rig
        self.name = name
        self.netns = netns
        self.port = port  # the veth end on the bridge: set it down to cut this host off
        self.ipv4: str | None = None  # without the prefix length
        self.processes: list[Process] = []

    def argv(self, *command: str) -> list[str]:
        """`command` wrapped to run inside this namespace."""
        return ["ip", "netns", "exec", self.netns, *command]

    def run(
        self, *command: str, timeout_s: float = COMMAND_TIMEOUT_S, env: dict[str, str] | None = None
    ) -> str:
        """Run a command in this namespace and return its stdout; RigError if it fails."""
        return _run(self.argv(*command), timeout_s, env)

    def spawn(self, *command: str, env: dict[str, str] | None = None) -> Process:
        """Start a long-running command in this namespace; the rig stops it at close."""
        process = Process(self.argv(*command), env)
        self.processes.append(process)
        return process

    def can_connect(self, address: str, port: int, *, timeout_s: float = 1.0) -> bool:
        """True if a TCP connection from this host to address:port opens within timeout_s
        (the machine may have no `ping`)."""
        probe = (
            "import socket, sys\n"
            f"socket.create_connection(({address!r}, {port}), timeout={timeout_s}).close()\n"
        )
        try:
            self.run(sys.executable, "-c", probe, timeout_s=timeout_s + 10)
        except RigError:
            return False
        return True

    def addresses(self) -> list[str]:
        """This host's addresses on eth0 that are ready (IPv6 DAD finished)."""
        out = self.run("ip", "-o", "addr", "show", "dev", "eth0")
        return [
            line.split()[3].split("/")[0]
            for line in out.splitlines()
            if " inet" in line and "tentative" not in line
        ]

    def link_local_ipv6(self) -> str:
        """The fe80:: address of eth0 (IPv6 must be on)."""
        for address in self.addresses():
            if address.startswith("fe80:"):
                return address
        raise RigError(f"{self.name} has no IPv6 link-local address")


class NetnsRig:
    """Namespaces on one bridge, removed with everything in them at close()."""

    def __init__(self) -> None:
        if (reason := skip_reason()) is not None:
            raise RigError(reason)
        self.prefix = f"{NAME_PREFIX}{os.getpid()}x{secrets.token_hex(2)}"
        self.bridge_netns = f"{self.prefix}-br"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._closed = False
        try:
            self._add_namespace(self.bridge_netns)
            self._bridge("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            self._bridge("ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
            self._bridge("ip", "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> NetnsRig:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _bridge(self, *command: str) -> str:
        return _run(["ip", "netns", "exec", self.bridge_netns, *command])

    def add_host(self, name: str, *, ipv4: str | None = None, ipv6: bool = True) -> Host:
        """A new namespace on the bridge with `ipv4` ("10.231.0.2/24", "169.254.3.4/16") on eth0.

        With ipv6, eth0 gets its fe80:: address at once (duplicate detection off); multicast
        (224.0.0.0/4) is routed to eth0 so mDNS works without any default route.
        """
        if not re.fullmatch(r"[a-z0-9]{1,8}", name) or name in self.hosts:
            raise ValueError(f"host name {name!r}: 1-8 of a-z0-9, unique in the rig")
        if ipv4 is not None and not any(
            ipaddress.IPv4Interface(ipv4).network.subnet_of(allowed) for allowed in RIG_NETWORKS
        ):
            raise ValueError(f"{ipv4}: the rig only uses 10.231.0.0/16 and 169.254.0.0/16")
        netns = f"{self.prefix}-{name}"
        port = f"p{len(self.hosts)}"
        host = Host(self, name, netns, port)
        self._add_namespace(netns)
        self.hosts[name] = host
        v6 = "0" if ipv6 else "1"
        host.run("sysctl", "-qw", f"net.ipv6.conf.all.disable_ipv6={v6}")
        host.run("sysctl", "-qw", f"net.ipv6.conf.default.disable_ipv6={v6}")
        host.run("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
        self._bridge("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                     netns)  # fmt: skip
        self._bridge("ip", "link", "set", port, "master", "br0", "up")
        # Per device too: a veth may be born in the bridge's namespace, with its defaults.
        host.run("sysctl", "-qw", f"net.ipv6.conf.eth0.disable_ipv6={v6}")
        if ipv6:
            host.run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        if ipv4 is not None:
            host.run("ip", "addr", "add", ipv4, "dev", "eth0")
            host.ipv4 = ipv4.split("/")[0]
        host.run("ip", "link", "set", "eth0", "up")
        host.run("ip", "route", "add", "224.0.0.0/4", "dev", "eth0")
        if ipv6:
            wait_until(
                lambda: any(a.startswith("fe80:") for a in host.addresses()),
                timeout_s=5,
                what=f"{name}'s IPv6 link-local address",
            )
        return host

    def partition(self, host: Host) -> None:
        """Cut `host` off the bridge (its own link stays up, as when a cable is pulled far away)."""
        self._bridge("ip", "link", "set", host.port, "down")

    def heal(self, host: Host) -> None:
        """Put `host` back on the bridge."""
        self._bridge("ip", "link", "set", host.port, "up")

    def netem(self, host: Host, spec: str) -> None:
        """Shape what `host` sends with `tc netem` (e.g. "delay 300ms rate 128kbit loss 1%").

        Raises NetemUnavailable on kernels built without sch_netem (use `limit_rate` there).
        """
        self._qdisc(host, "netem", *spec.split())

    def limit_rate(self, host: Host, rate: str = "128kbit") -> None:
        """Cap what `host` sends with a token bucket (`tc tbf`), which needs no netem."""
        self._qdisc(host, "tbf", "rate", rate, "burst", "1600", "latency", "400ms")

    def _qdisc(self, host: Host, kind: str, *params: str) -> None:
        if shutil.which("tc") is None:
            raise NetemUnavailable("needs tc (iproute2) to shape links")
        try:
            host.run("tc", "qdisc", "replace", "dev", "eth0", "root", kind, *params)
        except RigError as error:
            if "qdisc kind is unknown" in str(error):
                raise NetemUnavailable(f"this kernel has no {kind} qdisc (sch_{kind})") from None
            raise

    def clear_shaping(self, host: Host) -> None:
        """Remove the netem or rate limit of `host`."""
        with contextlib.suppress(RigError):
            host.run("tc", "qdisc", "del", "dev", "eth0", "root")

    def close(self) -> None:
        """Stop every process started in the rig and delete its namespaces. Safe twice."""
        if self._closed:
            return
        self._closed = True
        for host in self.hosts.values():
            for process in host.processes:
                process.stop()
        for name in reversed(self._namespaces):
            _kill_namespace_pids(name)
            with contextlib.suppress(RigError, subprocess.TimeoutExpired):
                _ip("netns", "del", name)


def _kill_namespace_pids(netns: str) -> None:
    # Anything still running in a namespace this rig made was started by the test through it.
    with contextlib.suppress(RigError, subprocess.TimeoutExpired):
        for pid in _ip("netns", "pids", netns).split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def remove_stale_namespaces() -> list[str]:
    """Delete rig namespaces whose creating process is gone (a crashed run); returns them."""
    removed = []
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        match = _NAME.match(name)
        if match is None or os.path.exists(f"/proc/{match.group(1)}"):
            continue
        _kill_namespace_pids(name)
        with contextlib.suppress(RigError):
            _ip("netns", "del", name)
            removed.append(name)
    return removed


_AVAHI_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_type="method_call"/>
    <allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""
_AVAHI_CONFIG = """[server]
use-ipv4=yes
use-ipv6=yes
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
"""


def avahi_skip_reason() -> str | None:
    """Why Avahi can't run in the rig (tools missing), or None when it can."""
    for tool in ("avahi-daemon", "avahi-browse", "dbus-daemon"):
        if shutil.which(tool) is None:
            return f"needs {tool} (Debian: avahi-daemon, avahi-utils, dbus)"
    return None


def start_avahi(host: Host, workdir: str, *, timeout_s: float = 10.0) -> dict[str, str]:
    """Run a private D-Bus and avahi-daemon (browse only) in `host`; returns the env for
    `avahi-browse` run with `host.run`. Both stop with the rig.

    The daemon's fixed pid file lives under /run, so /run is a fresh tmpfs in the private mount
    namespace `ip netns exec` gives it; the machine's /run is untouched.
    """
    socket = os.path.join(workdir, "avahi-bus")
    bus_config = os.path.join(workdir, "avahi-bus.conf")
    avahi_config = os.path.join(workdir, "avahi-daemon.conf")
    with open(bus_config, "w", encoding="utf-8") as out:
        out.write(_AVAHI_BUS_CONFIG.format(socket=socket))
    with open(avahi_config, "w", encoding="utf-8") as out:
        out.write(_AVAHI_CONFIG)
    bus = host.spawn("dbus-daemon", f"--config-file={bus_config}", "--nofork", "--print-address")
    bus.wait_for_line(lambda line: line.startswith("unix:"), timeout_s=timeout_s)
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={socket}"}
    daemon = host.spawn(
        "sh",
        "-c",
        "mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root --no-chroot "
        f"--no-rlimits -f {avahi_config}",
        env=env,
    )
    wait_until(
        lambda: "Server startup complete" in daemon.stderr or daemon.popen.poll() is not None,
        timeout_s=timeout_s,
        what="avahi-daemon to start",
    )
    if daemon.popen.poll() is not None:
        raise RigError(f"avahi-daemon exited: {daemon.stderr[-2000:]}")
    return env
