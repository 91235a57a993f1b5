"""`--peer HOST:PORT` parsing: IPv4, bracketed IPv6, host names, and clear errors."""

from __future__ import annotations

import pytest

from discovery.errors import DiscoveryError, PeerAddressError
from discovery.static import StaticPeer, parse_peer, parse_peers


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("10.231.0.5:7701", "10.231.0.5", 7701),
        (" 169.254.3.4:1 ", "169.254.3.4", 1),
        ("[2001:db8::5]:7701", "2001:db8::5", 7701),
        ("[fe80::1%eth0]:7701", "fe80::1%eth0", 7701),
        ("[::1]:65535", "::1", 65535),
        ("Laptop-2.local:7701", "laptop-2.local", 7701),
        ("triage:7701", "triage", 7701),
    ],
)
def test_valid_peers_parse(text: str, host: str, port: int) -> None:
    assert parse_peer(text) == StaticPeer(host, port)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("10.231.0.5", "no port"),
        (":7701", "no host"),
        ("10.231.0.5:http", "must be a number"),
        ("10.231.0.5:0", "between 1 and 65535"),
        ("10.231.0.5:70000", "between 1 and 65535"),
        ("10.231.0.999:7701", "not an IPv4 address"),
        ("fe80::1:7701", "put it in brackets"),
        ("[fe80::1:7701", "without closing"),
        ("[fe80::1%eth0]7701", "no port after"),
        ("[fe80::1]:7701", "needs its interface"),
        ("[not-v6]:7701", "not an IPv6 address"),
        ("bad_host!:7701", "not a valid host name"),
        ("-lead.local:7701", "not a valid host name"),
    ],
)
def test_invalid_peers_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(PeerAddressError, match=says) as caught:
        parse_peer(text)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DiscoveryError)


def test_peer_lists_drop_duplicates_and_print_back_as_typed() -> None:
    peers = parse_peers(["10.0.0.1:7701", "[2001:db8::1]:7701", "10.0.0.1:7701"])
    assert [str(p) for p in peers] == ["10.0.0.1:7701", "[2001:db8::1]:7701"]
