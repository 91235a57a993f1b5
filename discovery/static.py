"""Static peers given on the command line (`--peer HOST:PORT`), for links where mDNS can't pass.

Accepts `10.0.0.5:7701`, `[fe80::1%eth0]:7701`, `[2001:db8::5]:7701` and `laptop-2.local:7701`.
Pure: it parses text and never resolves a name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from discovery.errors import PeerAddressError

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_EXAMPLES = "write it as HOST:PORT, e.g. 10.0.0.5:7701, [fe80::1%eth0]:7701 or laptop-2.local:7701"


@dataclass(frozen=True, slots=True)
class StaticPeer:
    """A peer address to dial: an IP literal (IPv6 without brackets) or a hostname."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_peer(value: str) -> StaticPeer:
    """One `--peer` value as a StaticPeer, or PeerAddressError saying how to write it."""
    text = value.strip()
    if not text:
        raise PeerAddressError(f"empty peer address: {_EXAMPLES}")
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise PeerAddressError(f"peer {value!r} opens '[' without closing it: {_EXAMPLES}")
        host, rest = text[1:close], text[close + 1 :]
        if not rest.startswith(":"):
            raise PeerAddressError(f"peer {value!r} has no port after ']': {_EXAMPLES}")
        _check_ipv6(host, value)
        return StaticPeer(host, _port(rest[1:], value))
    if text.count(":") > 1:
        raise PeerAddressError(
            f"peer {value!r} looks like an IPv6 address: put it in brackets, e.g. [fe80::1]:7701"
        )
    host, sep, port = text.rpartition(":")
    if not sep:
        raise PeerAddressError(f"peer {value!r} has no port: {_EXAMPLES}")
    if not host:
        raise PeerAddressError(f"peer {value!r} has no host: {_EXAMPLES}")
    _check_host(host, value)
    return StaticPeer(host.lower().rstrip("."), _port(port, value))


def parse_peers(values: Iterable[str]) -> list[StaticPeer]:
    """Every `--peer` value parsed, duplicates dropped, order kept."""
    peers: list[StaticPeer] = []
    for value in values:
        peer = parse_peer(value)
        if peer not in peers:
            peers.append(peer)
    return peers


def _port(text: str, value: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise PeerAddressError(f"peer {value!r}: the port must be a number: {_EXAMPLES}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise PeerAddressError(f"peer {value!r}: the port must be between 1 and 65535")
    return port


def _check_ipv6(host: str, value: str) -> None:
    address, _, zone = host.partition("%")
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        raise PeerAddressError(f"peer {value!r}: {host!r} is not an IPv6 address") from None
    if "%" in host and not zone:
        raise PeerAddressError(f"peer {value!r}: the interface after '%' is missing")
    if parsed.is_link_local and not zone:
        raise PeerAddressError(
            f"peer {value!r}: a link-local IPv6 address needs its interface, e.g. [{host}%eth0]"
        )


def _check_host(host: str, value: str) -> None:
    if all(part.isdigit() for part in host.split(".")):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise PeerAddressError(f"peer {value!r}: {host!r} is not an IPv4 address") from None
        return
    name = host.rstrip(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        raise PeerAddressError(f"peer {value!r}: {host!r} is not a valid host name: {_EXAMPLES}")
