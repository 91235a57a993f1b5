"""What goes into the TXT record, and which advertisements become peer hints."""

from __future__ import annotations

import pytest

from discovery.hints import PeerHint, check_short_id, hint_from_txt, mesh_hash, txt_properties


def test_mesh_hash_is_short_stable_and_reveals_nothing_readable() -> None:
    digest = mesh_hash("mesh-of-st-marys-clinic")
    assert digest == mesh_hash("mesh-of-st-marys-clinic") != mesh_hash("other-mesh")
    assert len(digest) == 16 and "clinic" not in digest


def test_txt_record_carries_version_device_mesh_and_pairing_only() -> None:
    assert txt_properties("ward-a", "00ff00ff00ff00ff", False) == {
        "v": "1",
        "id": "ward-a",
        "mh": "00ff00ff00ff00ff",
    }
    assert txt_properties("ward-a", "00ff00ff00ff00ff", True)["pair"] == "1"


def test_hint_orders_ipv4_before_ipv6() -> None:
    txt = {"v": "1", "id": "ward-a", "mh": "00ff00ff00ff00ff", "pair": "1"}
    hint = hint_from_txt(txt, ["fe80::1%2", "10.231.0.2"], 7701)
    assert hint == PeerHint("ward-a", ("10.231.0.2", "fe80::1%2"), 7701, True, "00ff00ff00ff00ff")


@pytest.mark.parametrize(
    ("txt", "addresses", "port"),
    [
        ({"v": "2", "id": "ward-a", "mh": "00ff00ff00ff00ff"}, ["10.0.0.1"], 7701),
        ({"v": "1", "id": "Ward A!", "mh": "00ff00ff00ff00ff"}, ["10.0.0.1"], 7701),
        ({"v": "1", "id": "ward-a", "mh": "not-a-hash"}, ["10.0.0.1"], 7701),
        ({"v": "1", "id": "ward-a", "mh": "00ff00ff00ff00ff"}, [], 7701),
        ({"v": "1", "id": "ward-a", "mh": "00ff00ff00ff00ff"}, ["10.0.0.1"], None),
        ({}, ["10.0.0.1"], 7701),
    ],
)
def test_unusable_advertisements_are_not_hints(
    txt: dict[str, str | None], addresses: list[str], port: int | None
) -> None:
    assert hint_from_txt(txt, addresses, port) is None


def test_short_ids_must_be_dns_labels() -> None:
    assert check_short_id("a1b2c3d4") == "a1b2c3d4"
    for bad in ("abc", "-abcd", "ABCD", "ab.cd", "x" * 33):
        with pytest.raises(ValueError):
            check_short_id(bad)
