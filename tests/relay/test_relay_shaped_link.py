"""The relay link at 128 kbit/s inside network namespaces (`tc tbf`, a userspace delay proxy):
a clinic's day reaches the relay within its line-rate budget, and cutting the link three times
during the transfer re-sends no more than what was in flight at each cut.

A shorter day than the Show's 200 encounters keeps this under ~90 s in the suite;
`scripts/bench/relay_link` runs the full day (figures in docs/ARCHITECTURE.md §5).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from netns import NetnsRig
from netns_fixture import fresh_rig
from shaped_link import record_day, shaped_rig, summary, transfer

from meshd.sync.flow import in_flight_bytes
from meshd.sync.outbox import BULK_FRAME_BYTES

pytestmark = pytest.mark.slow

KBIT = 128
ENCOUNTERS = 60
DELAY_MS = 100.0
CUTS = 3
# What a reconnection costs on top: TLS and sync handshakes, digests, heads (measured ~10 KiB).
RECONNECT_BYTES = 16 * 1024


@pytest.fixture
def rig() -> Iterator[NetnsRig]:
    yield from fresh_rig()


def test_a_day_crosses_a_128_kbit_relay_link_and_cuts_resend_only_what_was_in_flight(
    rig: NetnsRig, tmp_path: Path
) -> None:
    day = record_day(tmp_path / "day", ENCOUNTERS)
    relay, clinic = shaped_rig(rig, KBIT)
    clean = transfer(tmp_path / "clean", relay, clinic, day, 0, DELAY_MS, 90)
    print("clean:", summary(day, clean, KBIT))
    assert clean.connections == 1 and clean.cuts == 0
    # The link is used well: the transfer takes at most 1.5 x its bytes at the line rate, and
    # those bytes (TLS records, signatures and all) are at most 1.5 x the day compressed.
    line_s = clean.up_bytes * 8 / (KBIT * 1000)
    assert clean.seconds < 120 and clean.seconds <= 1.5 * line_s, (clean.seconds, line_s)
    assert clean.up_bytes <= 1.5 * day.compressed_bytes
    cut = transfer(tmp_path / "cut", relay, clinic, day, CUTS, DELAY_MS, 90)
    print("cut three times:", summary(day, cut, KBIT))
    assert cut.cuts == CUTS and cut.connections > CUTS
    # At a cut, what was in flight is lost: at most the window of unacknowledged bytes, the
    # relay's receive buffers and the bulk frame it was storing (meshd.sync.flow). Nothing else
    # is sent again.
    in_flight = in_flight_bytes(BULK_FRAME_BYTES) + RECONNECT_BYTES
    resent = cut.up_bytes - clean.up_bytes
    print(f"re-sent {resent / 1024:.1f} KiB over {CUTS} cuts "
          f"(bound {CUTS * in_flight / 1024:.0f} KiB)")
    assert resent <= CUTS * in_flight
