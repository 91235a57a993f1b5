"""The pairing invitation as a URI and a QR code (terminal, PNG, SVG)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from discovery.errors import InvalidPairingInvite
from discovery.qr import PairingInvite, pairing_uri, parse_pairing_uri, print_qr, save_qr


def test_uri_round_trips_ipv4_ipv6_and_host_names() -> None:
    for host in ("10.231.0.2", "fe80::1%eth0", "laptop-2.local"):
        uri = pairing_uri("012345", host, 7701)
        assert uri.startswith("clinicmesh://pair?code=012345&")
        assert parse_pairing_uri(uri) == PairingInvite("012345", host, 7701)


@pytest.mark.parametrize(
    "uri",
    [
        "https://pair?code=123456&host=10.0.0.1&port=7701",
        "clinicmesh://join?code=123456&host=10.0.0.1&port=7701",
        "clinicmesh://pair?code=123456&host=10.0.0.1",
        "clinicmesh://pair?code=12345&host=10.0.0.1&port=7701",
        "clinicmesh://pair?code=123456&host=10.0.0.1&port=99999",
        "clinicmesh://pair?code=123456&host=bad_host!&port=7701",
    ],
)
def test_foreign_or_broken_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidPairingInvite):
        parse_pairing_uri(uri)


def test_qr_is_drawn_in_the_terminal() -> None:
    out = io.StringIO()
    print_qr(pairing_uri("123456", "10.231.0.2", 7701), out)
    drawing = out.getvalue()
    assert len(drawing.splitlines()) > 10
    assert any(block in drawing for block in "█▀▄")


def test_qr_is_saved_as_png_and_svg(tmp_path: Path) -> None:
    uri = pairing_uri("123456", "10.231.0.2", 7701)
    png = save_qr(uri, tmp_path / "invite.png")
    svg = save_qr(uri, tmp_path / "invite.svg")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in svg.read_bytes()
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        save_qr(uri, tmp_path / "invite.jpg")
