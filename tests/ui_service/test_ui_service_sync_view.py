"""The sync page's status from the sync engine's report."""

from __future__ import annotations

from meshd.clinic_ui.sync_view import sync_status

STARTED_MS = 1_000


def peer(name: str, connected: bool, last_seen_ms: int | None, pending: int) -> dict[str, object]:
    return {"device_id": "ab", "device_name": name, "address": f"{name}:7701",
            "connected": connected, "last_seen_ms": last_seen_ms, "docs_pending_out": pending,
            "docs_pending_in": 0, "bytes_in": 0, "bytes_out": 0}


def test_connected_peers_mean_online_and_pending_changes_add_up() -> None:
    report = {"device": {"device_name": "desk-1"},
              "peers": [peer("lab", True, 5_000, 3), peer("pharmacy", False, 4_000, 0)]}
    status = sync_status("fallback", report, None, STARTED_MS)
    assert status.device_name == "desk-1" and status.offline_since_ms is None
    assert [(p.name, p.connected, p.pending_changes) for p in status.peers] == [
        ("lab", True, 3), ("pharmacy", False, None)]  # unknown while away, not 0
    assert status.pending_changes == 3 and status.relay is None


def test_no_connected_peer_means_offline_since_the_last_contact_or_start() -> None:
    report = {"device": {"device_name": "desk-1"}, "peers": [peer("lab", False, 4_000, 0)]}
    assert sync_status("d", report, None, STARTED_MS).offline_since_ms == 4_000
    assert sync_status("d", {"peers": []}, None, STARTED_MS).offline_since_ms == STARTED_MS


def test_without_an_engine_the_status_says_so_honestly() -> None:
    status = sync_status("desk-1", None, "https://relay.example", STARTED_MS)
    assert status.peers == () and status.offline_since_ms == STARTED_MS
    assert status.relay is not None and status.relay.state == "unreachable"


def test_the_relay_line_is_the_relay_links_own_state() -> None:
    linked = {"peers": [], "relay": {"url": "https://relay.example:7443", "state": "connected",
                                     "last_contact_ms": 9_000}}
    relay = sync_status("d", linked, None, STARTED_MS).relay
    assert relay is not None and (relay.url, relay.state, relay.last_contact_ms) == (
        "https://relay.example:7443", "connected", 9_000)
    dialing = {"peers": [], "relay": {"url": "https://relay.example:7443", "state": "connecting"}}
    relay = sync_status("d", dialing, None, STARTED_MS).relay
    assert relay is not None and relay.state == "unreachable"
    assert sync_status("d", {"peers": [], "relay": None}, None, STARTED_MS).relay is None
    # The relay's own session is the relay line, not a device; it counts as being online.
    alone = {"peers": [{**peer("relay", True, 9_000, 0), "device_id": "ab" * 32}],
             "relay": {**linked["relay"], "relay_key": "ab" * 32}}
    status = sync_status("d", alone, None, STARTED_MS)
    assert status.peers == () and status.offline_since_ms is None


def test_documents_over_the_sync_budget_are_counted_per_peer() -> None:
    paused = {**peer("lab", True, 5_000, 0), "docs_over_budget": ["chart:a", "chart:b"]}
    status = sync_status("d", {"peers": [paused, peer("desk", True, 5_000, 0)]}, None, STARTED_MS)
    assert [p.held_back for p in status.peers] == [2, 0]


def test_refused_data_is_listed_with_the_device_that_sent_it() -> None:
    refused = {"at_ms": 7_000, "doc_id": "chart:a", "device_key": "cd" * 32,
               "device_name": "tablet-9", "reason": "entries/a1 was deleted"}
    status = sync_status("d", {"peers": [], "quarantine": [refused]}, None, STARTED_MS)
    assert [(q.device_name, q.doc_id, q.reason) for q in status.quarantine] == [
        ("tablet-9", "chart:a", "entries/a1 was deleted")]


def test_a_peer_is_named_as_the_directory_names_it() -> None:
    report = {"peers": [{**peer("old-name", False, 4_000, 0), "device_id": "d2"}]}
    status = sync_status("desk-1", report, None, STARTED_MS, {"d2": "Triage tablet"})
    assert [p.name for p in status.peers] == ["Triage tablet"]
