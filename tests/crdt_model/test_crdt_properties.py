"""Property tests: random edits on forks of the same documents converge, whatever the merge order.

Each example starts from one chart, one facility and one queue, forks them onto two or three
devices, applies a random sequence of clinical operations (with some syncs between devices in
the middle), then merges the forks in every order. Every order must give the same document,
heads and derived views, no entry written on any fork may be missing, and an operation that
fails must leave its documents unchanged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from crdt_fixtures import PATIENT, REGISTRATION, T0_MS, TODAY
from hypothesis import given, settings
from hypothesis import strategies as st

from crdt_model import chart, facility, queue
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import ClinicMeshError

DEVICES = ("a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "c3c3c3c3c3c3c3c3")
USER = "0e0e0e0e0e0e0e0e"
RX = {"drug": "Amoxicillin", "dose": 250, "dose_unit": "mg", "route": "oral",
      "frequency": "tds", "duration_days": 5, "quantity": 10}
NAMES = ("Amina", "Aminah", "Wanjiru", "Neema")
OPS = (
    "note", "allergy", "demographic", "village", "correct_allergy", "void", "prescribe",
    "cancel", "dispense", "enqueue", "move", "resolve", "sync", "encounter", "close",
)


@dataclass
class Device:
    """One device's copies of the three documents."""

    chart: Doc
    facility: Doc
    queue: Doc

    def docs(self) -> tuple[Doc, Doc, Doc]:
        return self.chart, self.facility, self.queue


@dataclass
class Written:
    """Ids every fork wrote successfully: all of them must be in the merged documents."""

    entries: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    ledger: set[str] = field(default_factory=set)
    queue: set[str] = field(default_factory=set)


def _base() -> Device:
    author = Author(DEVICES[0], USER, T0_MS)
    doc = chart.register_patient(PATIENT, REGISTRATION, author, TODAY)
    chart.record_allergy(doc, {"substance": "Penicilin"}, author, "al0")
    chart.prescribe(doc, RX, author, "rx0")
    fac = facility.new_facility("kibera-hc", {"name": "Kibera"}, author)
    facility.add_drug(fac, "amox", {"name": "Amoxicillin"}, author)
    facility.receive_stock(fac, {"drug_id": "amox", "quantity": 50}, author, "in0")
    day = queue.queue_genesis("kibera-hc", TODAY, author)
    queue.enqueue(day, PATIENT, "registration", author, "q0")
    return Device(doc, fac, day)


def _apply(dev: Device, peer: Device, op: str, n: int, pick: int, who: Author,
           out: Written) -> None:
    entry = f"e{n}"
    entries = sorted(dev.chart.to_dict()["entries"])
    target = entries[pick % len(entries)]
    if op == "note":
        chart.add_note(dev.chart, {"text": f"note {n}"}, who, entry)
        out.entries.add(entry)
    elif op == "allergy":
        chart.record_allergy(dev.chart, {"substance": f"drug {pick}"}, who, entry)
        out.entries.add(entry)
    elif op in ("demographic", "village"):
        key, value = ("given_name", NAMES[pick % 4]) if op == "demographic" else (
            "village", f"village {pick}")
        before = set(dev.chart.to_dict()["demographic_writes"])
        chart.update_demographics(dev.chart, {key: value}, who, f"w{n}", TODAY)
        out.writes |= set(dev.chart.to_dict()["demographic_writes"]) - before
    elif op == "correct_allergy":
        live = [a["id"] for a in chart.chart_view(dev.chart)["allergies"] if a["status"] == "live"]
        if live:
            chart.correct_entry(dev.chart, live[pick % len(live)], {"substance": f"x{n}"}, who,
                                entry)
            out.entries.add(entry)
    elif op == "void":
        chart.void_entry(dev.chart, target, "entered in error", who, entry)
        out.entries.add(entry)
    elif op == "prescribe":
        chart.prescribe(dev.chart, RX, who, entry)
        out.entries.add(entry)
    elif op == "cancel":
        chart.cancel_prescription(dev.chart, target, "stopped", who, entry)
        out.entries.add(entry)
    elif op == "dispense":
        rx = target if dev.chart.to_dict()["entries"][target].get("kind") == "prescription" \
            else "rx0"
        chart.dispense(dev.chart, dev.facility, {"prescription_id": rx, "drug_id": "amox",
                                                 "quantity": 1 + pick % 5}, who, entry, f"l{n}")
        out.entries.add(entry)
        out.ledger.add(f"l{n}")
    elif op == "encounter":
        chart.open_encounter(dev.chart, {"chief_complaint": "fever"}, who, entry)
        chart.record_triage(dev.chart, {"encounter_id": entry, "category": "queue",
                                        "vitals": {"pulse_bpm": 60 + pick}}, who, f"t{n}")
        out.entries |= {entry, f"t{n}"}
    elif op == "close":
        encounters = [e["id"] for e in chart.chart_view(dev.chart)["encounters"] if e["open"]]
        if encounters:
            chart.close_encounter(dev.chart, encounters[pick % len(encounters)], who)
    elif op == "enqueue":
        queue.enqueue(dev.queue, PATIENT, "triage", who, f"q{n}")
        out.queue.add(f"q{n}")
    elif op == "move":
        rows = queue.queue_rows(dev.queue)
        row = rows[pick % len(rows)]
        queue.move_to(dev.queue, row["entry_id"], queue.STATIONS[pick % 6], who, f"m{n}")
    elif op == "resolve":
        items = chart.review_items(dev.chart)
        if items:
            item = items[pick % len(items)]
            choice = item["candidates"][pick % len(item["candidates"])]["choice"]
            before = set(dev.chart.to_dict()["demographic_writes"])
            chart.resolve_review(dev.chart, item["id"], choice, who, f"r{n}")
            out.writes |= set(dev.chart.to_dict()["demographic_writes"]) - before
            if item["kind"] == "concurrent_corrections":
                out.entries.add(f"r{n}")
    elif op == "sync":
        for mine, theirs in zip(dev.docs(), peer.docs(), strict=True):
            mine.merge(theirs)


def _merged(devices: list[Device], order: tuple[int, ...]) -> Device:
    first = devices[order[0]]
    result = Device(*(d.fork(d.actor()) for d in first.docs()))
    for i in order[1:]:
        for mine, theirs in zip(result.docs(), devices[i].docs(), strict=True):
            mine.merge(theirs)
    return result


def _views(dev: Device) -> list[Any]:
    return [
        dev.chart.heads(), dev.facility.heads(), dev.queue.heads(),
        dev.chart.to_dict(), dev.facility.to_dict(), dev.queue.to_dict(),
        chart.chart_view(dev.chart), facility.stock_levels(dev.facility),
        queue.queue_rows(dev.queue),
    ]


steps = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(OPS), st.integers(0, 50)),
    min_size=8, max_size=30,
)


@settings(max_examples=50, deadline=None)
@given(forks=st.integers(2, 3), plan=steps)
def test_forks_merged_in_every_order_converge_and_lose_nothing(
    forks: int, plan: list[tuple[int, str, int]]
) -> None:
    base = _base()
    devices = [
        Device(*(d.fork(Author(DEVICES[i], USER, 0).actor) for d in base.docs()))
        for i in range(forks)
    ]
    out = Written()
    for n, (index, op, pick) in enumerate(plan):
        i = index % forks
        who = Author(DEVICES[i], USER, T0_MS + 1000 * (n + 1) + pick)
        before = [(d.heads(), d.to_dict()) for d in devices[i].docs()]
        try:
            _apply(devices[i], devices[(i + 1) % forks], op, n, pick, who, out)
        except ClinicMeshError:
            assert [(d.heads(), d.to_dict()) for d in devices[i].docs()] == before
    results = [_views(_merged(devices, order)) for order in itertools.permutations(range(forks))]
    for other in results[1:]:
        assert other == results[0]
    merged_chart, merged_facility, merged_queue = results[0][3:6]
    assert out.entries <= set(merged_chart["entries"])
    assert out.writes <= set(merged_chart["demographic_writes"])
    assert out.ledger <= set(merged_facility["ledger"])
    assert out.queue <= set(merged_queue["entries"])
    level = merged_facility_level(merged_facility)
    assert results[0][7]["amox"]["level"] == level


def merged_facility_level(root: dict[str, Any]) -> int:
    """The stock level recomputed by hand from the merged ledger."""
    return sum(int(e["quantity"]) for e in root["ledger"].values() if e["drug_id"] == "amox")


