"""Found by the 30-minute chaos soak (issue 15): one encounter closed on two devices at once.

Each device stamps `closed` with its own map; Automerge keeps one of the two concurrent values,
so on the device whose stamp lost, the merged copy shows `closed` "changed in place" and
crdt_model.arrival refuses it. That device then refuses every later batch holding the chart
(and drops the peer after five), so the chart never converges and acknowledged writes made
elsewhere never reach it. The fix belongs to crdt_model (the merge rule or the stamp's shape):
until then this test is a strict xfail, so the fix turns it into a reminder to drop the mark.
"""

from __future__ import annotations

import uuid

import pytest

from crdt_model import chart
from crdt_model.arrival import RefusedChange, check_arrival
from crdt_model.context import Author
from crdt_model.ids import chart_id

DESK = Author("aa" * 8, "01" * 8, 1_763_800_000_000)
WARD = Author("bb" * 8, "02" * 8, 1_763_800_000_500)
PID = str(uuid.UUID(int=7))
DOC_ID = chart_id(PID)


@pytest.mark.xfail(raises=RefusedChange, strict=True,
                   reason="a concurrent close is refused as a change in place")
def test_an_encounter_closed_on_two_devices_at_once_merges_on_both() -> None:
    base = chart.register_patient(PID, {"given_name": "Amina", "family_name": "Bello",
                                        "sex": "female", "birth_date": "1990-02-03"},
                                  DESK, "2026-11-29")
    chart.open_encounter(base, {"chief_complaint": "fever"}, DESK, "visit1")
    desk, ward = base.fork(DESK.actor), base.fork(WARD.actor)
    chart.close_encounter(desk, "visit1", DESK)
    chart.close_encounter(ward, "visit1", WARD)
    for mine, theirs in ((desk, ward), (ward, desk)):
        merged = mine.fork(mine.actor())
        merged.merge(theirs)
        check_arrival(DOC_ID, mine, merged)  # each device must take the other's close
