"""DHIS2: a generated clinic whose counts are known gives exactly those values."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from export_clinic import NOVEMBER, generated_clinic, new_facility, root, utc, who

from crdt_model import chart
from crdt_model.errors import ValidationError
from meshd.exports.chart_read import read_chart
from meshd.exports.dhis2 import CSV_HEADER, Dhis2Tally
from meshd.exports.dhis2_mapping import Dhis2Mapping, parse_mapping
from meshd.exports.periods import period_days

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "dhis2-mapping.example.json"


def _mapping() -> Dhis2Mapping:
    return parse_mapping(json.loads(EXAMPLE.read_text()))


def _november_tally(n: int) -> tuple[Dhis2Tally, dict[tuple[str, str], int]]:
    fac = new_facility()
    docs, expected = generated_clinic(n, fac)
    tally = Dhis2Tally(_mapping(), "202611", *period_days("202611"))
    for doc in docs:
        found = read_chart(root(doc), utc)
        assert found is not None
        tally.add_chart(found)
    tally.add_facility(fac.to_dict(), utc)
    return tally, dict(expected)


def test_generated_clinic_gives_the_known_totals_per_element_and_combo() -> None:
    mapping = _mapping()
    tally, expected = _november_tally(60)
    by_uid = {e.uid: e for e in mapping.elements}
    combo_key = {(e.uid, uid): key for e in mapping.elements for key, uid in e.combos.items()}
    got = {}
    for value in tally.data_values():
        element = by_uid[value["dataElement"]]
        assert value["period"] == "202611" and value["orgUnit"] == mapping.org_unit
        got[(element.count, combo_key[(element.uid, value["categoryOptionCombo"])])] = int(
            value["value"])
    # Every mapped combo is reported (zeros too); the non-zero ones are exactly the known counts.
    assert len(got) == sum(len(e.combos) for e in mapping.elements)
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}
    assert tally.unmapped == {}
    assert expected[("visits", "<1/female")] > 0 and expected[("referrals", "default")] > 0
    assert expected[("diagnosis_visits", "<5")] > 0 and expected[("follow_up_visits", "default")]


def test_the_data_value_set_and_its_csv_carry_the_same_values() -> None:
    tally, _ = _november_tally(20)
    body = tally.data_value_set()
    assert body["dataSet"] == "DsOpdMonthl" and body["period"] == "202611"
    rows = list(csv.reader(io.StringIO(
        "".join(",".join(r) + "\n" for r in tally.csv_rows()))))
    assert tuple(rows[0]) == CSV_HEADER
    assert [(r[0], r[3], r[5]) for r in rows[1:]] == [
        (v["dataElement"], v["categoryOptionCombo"], v["value"]) for v in body["dataValues"]]


def test_a_patient_of_an_unmapped_sex_is_counted_as_unmapped() -> None:
    raw = json.loads(EXAMPLE.read_text())
    raw["data_elements"] = raw["data_elements"][:1]
    tally = Dhis2Tally(parse_mapping(raw), "202611", *NOVEMBER)
    fac = new_facility()
    docs, _ = generated_clinic(3, fac)
    chart.update_demographics(docs[0], {"sex": "other"}, who("2026-11-03"), "w1", "2026-11-03")
    for d in docs:
        found = read_chart(root(d), utc)
        assert found is not None
        tally.add_chart(found)
    assert tally.unmapped == {"DeOpdVisits": 2}  # patient 0 came on 1 and 2 November


@pytest.mark.parametrize(("change", "field"), [
    ({"org_unit": "short"}, "org_unit"),
    ({"format": "other"}, "format"),
    ({"colour": "blue"}, "colour"),
])
def test_a_wrong_mapping_is_refused_naming_the_field(change: dict[str, str], field: str) -> None:
    raw = {**json.loads(EXAMPLE.read_text()), **change}
    with pytest.raises(ValidationError) as caught:
        parse_mapping(raw)
    assert caught.value.field == field


def test_a_combo_key_outside_the_disaggregation_is_refused() -> None:
    raw = json.loads(EXAMPLE.read_text())
    raw["data_elements"][0]["category_option_combos"]["15+/femael"] = "HllvX50cXC0"
    with pytest.raises(ValidationError, match="femael"):
        parse_mapping(raw)


@pytest.mark.parametrize(("period", "days"), [
    ("202611", ("2026-11-01", "2026-11-30")), ("2026", ("2026-01-01", "2026-12-31")),
    ("2026Q1", ("2026-01-01", "2026-03-31")), ("2026W1", ("2025-12-29", "2026-01-04")),
    ("20260228", ("2026-02-28", "2026-02-28")), ("202402", ("2024-02-01", "2024-02-29")),
])
def test_dhis2_periods_become_day_ranges(period: str, days: tuple[str, str]) -> None:
    assert period_days(period) == days


def test_a_malformed_period_is_refused() -> None:
    with pytest.raises(ValidationError):
        period_days("202613")
