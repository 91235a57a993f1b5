"""The clinic's report of a period gives the numbers the DHIS2 export sends: diagnoses by age
group and sex, visits by age group and sex, and stock consumed, on the same charts."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pytest
from export_clinic import FACILITY, NOVEMBER, generated_clinic, new_facility, root

from crdt_model.adapter import actor_for
from crdt_model.ids import chart_id, facility_id
from crdt_model.validate import SEXES
from meshd.clinic import Caller, Clinic, genesis_for, project
from meshd.clinic.reports import AGE_GROUPS
from meshd.docs import Documents
from meshd.exports.chart_read import read_chart
from meshd.exports.dhis2 import Dhis2Tally
from meshd.exports.dhis2_mapping import parse_mapping
from meshd.identity import Identity
from meshd.store.memory import MemoryStore

CODES = ("B54", "B50.9", "B53.8", "J06.9")
DRUGS = ("al-20-120", "amoxicillin-250")
IDENTITY = Identity(device_id="7c1e4b2a-9d3f-4e5a-8b6c-0d1e2f3a4b5c", device_name="desk",
                    mesh_id="5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e", facility_id=FACILITY,
                    facility_name="Hilltop Clinic")
_uids = (f"u{n:010d}" for n in itertools.count())


def local(at_ms: int) -> datetime:
    """The device's own clock, as the clinic core counts days."""
    return datetime.fromtimestamp(at_ms / 1000)


def element(count: str, by: list[str], **extra: Any) -> dict[str, Any]:
    groups = [g for *_, g in AGE_GROUPS]
    keys = [f"{g}/{s}" for g in groups for s in SEXES] if by else ["default"]
    return {"uid": next(_uids), "count": count, "by": by, **extra,
            **({"age_groups": "report"} if by else {}),
            "category_option_combos": {k: next(_uids) for k in keys}}


@pytest.mark.asyncio
async def test_the_report_and_the_dhis2_export_count_the_same() -> None:
    fac = new_facility()
    docs, _ = generated_clinic(40, fac)
    mapping = {
        "format": "clinicmesh-dhis2-mapping", "version": 1, "org_unit": "Org0000001a",
        "age_groups": {"report": [
            {"name": name, "min_years": low, **({"max_years": high} if high is not None else {})}
            for low, high, name in AGE_GROUPS]},
        "data_elements": [
            element("visits", ["age", "sex"]),
            *(element("diagnosis_visits", ["age", "sex"], icd10=[c]) for c in CODES),
            *(element("stock_consumed", [], drug_id=d) for d in DRUGS),
        ],
    }
    parsed = parse_mapping(mapping)
    tally = Dhis2Tally(parsed, "202611", *NOVEMBER)
    for doc in docs:
        found = read_chart(root(doc), local)
        assert found is not None
        tally.add_chart(found)
    tally.add_facility(fac.to_dict(), local)

    async with MemoryStore() as store:
        documents = Documents(store, actor_for(IDENTITY.device_id, "system"),
                              genesis=genesis_for(IDENTITY.device_id), project=project)
        clinic = Clinic(documents, store, IDENTITY)
        await documents.apply_remote(facility_id(FACILITY), fac.save())
        for doc in docs:
            await documents.apply_remote(chart_id(str(root(doc)["patient_id"])), doc.save())
        report = await clinic.period_report(*NOVEMBER, Caller("api", "test"))

    by_uid = {e.uid: e for e in parsed.elements}
    compared = 0
    for (uid, key), count in tally.counts.items():
        item = by_uid[uid]
        if item.count == "stock_consumed":
            consumed = report.stock_consumed.get(str(item.drug_id), {"quantity": 0})
            assert consumed["quantity"] == count
        else:
            group, sex = key.split("/")
            cells = (report.by_age_sex if item.count == "visits"
                     else report.diagnoses.get(item.icd10[0], {}))
            assert cells.get(group, {}).get(sex, 0) == count, (item.count, item.icd10, key)
        compared += count
    assert compared > 40 and not tally.unmapped
    # and nothing the report counts is missing from the export
    for code, groups in report.diagnoses.items():
        uid = next(e.uid for e in parsed.elements if e.icd10 == (code,))
        for group, sexes in groups.items():
            for sex, count in sexes.items():
                assert tally.counts.get((uid, f"{group}/{sex}"), 0) == count
    assert set(report.stock_consumed) <= set(DRUGS)
    assert report.stock_consumed["al-20-120"]["quantity"] > 0
    assert sum(report.visits_per_day.values()) == report.visits == sum(
        n for (uid, _), n in tally.counts.items() if by_uid[uid].count == "visits")
