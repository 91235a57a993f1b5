"""The sync page's status from the sync engine's own report (`SyncEngine.status()`).

When no engine runs (the node failed to start it, or a test runs without one) the page gets an
honest "offline since start-up, no peers" status rather than a made-up connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ui.records import PeerStatus, QuarantineItem, RelayStatus, SyncStatus


def relay_status(url: str | None, link: Mapping[str, Any] | None = None) -> RelayStatus | None:
    """The relay line: the relay link's own state when the clinic has a relay credential
    (meshd.relay.link: connected while a session runs), else a `--relay` URL that no
    credential lets this device use (unreachable), else none."""
    if link and link.get("url"):
        last = link.get("last_contact_ms")
        return RelayStatus(url=str(link["url"]),
                           state="connected" if link.get("state") == "connected" else "unreachable",
                           last_contact_ms=last if isinstance(last, int) else None)
    return None if not url else RelayStatus(url=url, state="unreachable", last_contact_ms=None)


def sync_status(
    device_name: str, engine_report: Mapping[str, Any] | None, relay_url: str | None,
    started_ms: int, device_names: Mapping[str, str] | None = None,
) -> SyncStatus:
    """SyncStatus from an engine report (None when sync is not running); a peer is named as
    the mesh directory names it (`device_names`, by device id), as every other page does."""
    relay = relay_status(relay_url, (engine_report or {}).get("relay"))
    if engine_report is None:
        return SyncStatus(device_name=device_name, relay=relay, offline_since_ms=started_ms)
    # The relay's session is shown on the relay line, not as a device of the clinic.
    relay_key = ((engine_report.get("relay") or {}).get("relay_key"))
    peers = tuple(_peer(p, device_names or {}) for p in engine_report.get("peers", [])
                  if relay_key is None or p.get("device_id") != relay_key)
    connected = any(p.connected for p in peers) or (relay is not None
                                                     and relay.state == "connected")
    last_contact = max((p.last_contact_ms for p in peers if p.last_contact_ms), default=None)
    return SyncStatus(
        device_name=str(engine_report.get("device", {}).get("device_name") or device_name),
        peers=peers, relay=relay,
        pending_changes=sum(p.pending_changes or 0 for p in peers),
        offline_since_ms=None if connected else (last_contact or started_ms),
        quarantine=tuple(_quarantined(q) for q in engine_report.get("quarantine", [])),
    )


def _quarantined(report: Mapping[str, Any]) -> QuarantineItem:
    return QuarantineItem(
        at_ms=int(report.get("at_ms") or 0), device_name=str(report.get("device_name") or "?"),
        device_key=str(report.get("device_key") or ""), doc_id=str(report.get("doc_id") or ""),
        reason=str(report.get("reason") or ""),
    )


def _peer(report: Mapping[str, Any], device_names: Mapping[str, str]) -> PeerStatus:
    last = report.get("last_seen_ms")
    connected = bool(report.get("connected"))
    return PeerStatus(
        name=str(device_names.get(str(report.get("device_id"))) or report.get("device_name")
                 or report.get("address") or "?"),
        address=str(report.get("address") or ""),
        connected=connected,
        last_contact_ms=last if isinstance(last, int) else None,
        # The engine counts what waits only for a connected peer: unknown otherwise, not 0.
        pending_changes=int(report.get("docs_pending_out") or 0) if connected else None,
        held_back=len(report.get("docs_over_budget") or ()),
    )
