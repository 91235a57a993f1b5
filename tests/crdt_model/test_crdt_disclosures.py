"""A chart records the clinics it was handed to through the relay (crdt_model.disclosures)."""

from __future__ import annotations

import uuid

from crdt_model import chart
from crdt_model.arrival import check_arrival
from crdt_model.chart_view import chart_view
from crdt_model.context import Author
from crdt_model.disclosures import new_disclosures, record_disclosure
from crdt_model.ids import chart_id

NURSE = Author("aa" * 8, "01" * 8, 1_763_800_000_000)
RELAY = Author("cc" * 8, "relay", 1_763_800_100_000)
PID = str(uuid.UUID(int=7))


def test_a_disclosure_is_a_new_append_only_entry_the_receiver_sees_once() -> None:
    before = chart.register_patient(PID, {"given_name": "Amina", "family_name": "Bello",
                                          "sex": "female", "birth_date": "1990-02-03"},
                                    NURSE, "2026-11-29")
    after = before.fork(RELAY.actor)
    record_disclosure(after, "d1", "relay_pull", "Clinic B", RELAY)
    check_arrival(chart_id(PID), before, after, {RELAY.actor})  # a proven author: accepted
    found = new_disclosures(before, after)
    assert [(d["clinic"], d["action"], d["user"]) for d in found] == [
        ("Clinic B", "relay_pull", "relay")]
    assert new_disclosures(after, after) == []  # already held: nothing new to audit
    assert new_disclosures(None, after) == found  # a chart arriving whole brings it too
    view = chart_view(after)
    assert [d["clinic"] for d in view["disclosures"]] == ["Clinic B"]
    assert view["other"] == []

