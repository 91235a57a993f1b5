"""A newer schema's fields and entry kinds survive an older writer's edits and merges."""

from __future__ import annotations

import json

from crdt_fixtures import TODAY

from crdt_model import chart, facility
from crdt_model.adapter import Doc, Tx
from crdt_model.context import Author


def _newer_writer_adds_unknowns(doc: Doc) -> None:
    def build(tx: Tx) -> None:
        tx.put((), "schema", 2)
        tx.put((), "insurance", {"scheme": "NHIF", "number": "123"})
        tx.put(("demographics",), "preferred_language", "sw")
        tx.put(("entries",), "imm1", {
            "kind": "immunization", "vaccine": "MR1", "at": 5, "device": "x", "user": "y",
        })
        tx.put(("entries",), "odd", {"kind": 7, "at": "not a time"})
        tx.put(("entries",), "scalar-entry", "not a map")
        tx.put(("entries", "al1"), "coded_substance", "RxNorm:7980")

    doc.change(build)


def test_unknown_fields_and_kinds_survive_old_edits_and_merges(
    registered: Doc, nurse_a: Author, doctor_b: Author
) -> None:
    chart.record_allergy(registered, {"substance": "Penicillin"}, nurse_a, "al1")
    newer = registered.fork(doctor_b.actor)
    _newer_writer_adds_unknowns(newer)
    registered.merge(newer)
    # The old writer keeps working on the doc, while the newer one keeps writing too.
    chart.update_demographics(registered, {"village": "Gulu", "given_name": "Aminah"}, nurse_a,
                              "w1", TODAY)
    chart.add_note(registered, {"text": "seen"}, nurse_a, "n1")
    chart.void_entry(registered, "imm1", "wrong vaccine", nurse_a, "v1")
    newer.change(lambda tx: tx.put(("entries",), "imm2", {"kind": "immunization", "at": 9}))
    registered.merge(newer)
    newer.merge(registered)
    assert registered.to_dict() == newer.to_dict()
    root = registered.to_dict()
    assert root["schema"] == 2
    assert root["insurance"] == {"scheme": "NHIF", "number": "123"}
    assert root["demographics"]["preferred_language"] == "sw"
    assert root["entries"]["al1"]["coded_substance"] == "RxNorm:7980"
    assert root["entries"]["imm1"]["vaccine"] == "MR1"
    view = chart.chart_view(registered)
    other = {e["id"]: e for e in view["other"]}
    assert set(other) == {"imm1", "imm2", "odd"}
    assert other["imm1"]["status"] == "voided"
    assert view["allergies"][0]["coded_substance"] == "RxNorm:7980"
    assert chart.patient_row(registered)["given_name"] == "Aminah"
    assert json.loads(json.dumps(view)) == view


def test_facility_with_unknown_ledger_rows_still_reports_levels(nurse_a: Author) -> None:
    doc = facility.new_facility("kibera-hc", {"name": "Kibera"}, nurse_a)
    facility.add_drug(doc, "amox", {"name": "Amoxicillin"}, nurse_a)
    doc.change(lambda tx: tx.put(("ledger",), "future", {"kind": "transfer", "batch": "B1"}))
    doc.change(lambda tx: tx.put((), "cold_chain", {"fridge": "ok"}))
    facility.receive_stock(doc, {"drug_id": "amox", "quantity": 4}, nurse_a, "in1")
    assert facility.stock_levels(doc)["amox"]["level"] == 4
    assert doc.to_dict()["cold_chain"] == {"fridge": "ok"}
    assert doc.to_dict()["ledger"]["future"]["batch"] == "B1"
