"""Lab results by the test catalogue (issue 13, defect 10): a rapid test takes positive,
negative or invalid; a number gets its reference range by sex and age and an automatic flag
(abnormal, critical); a critical result marks the patient in the queue."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Api

from crdt_model.lab_tests import LAB_TESTS, reference


async def _ordered(api: Api, code: str, **patient: Any) -> tuple[str, str]:
    pid = await api.register(**patient)
    test = LAB_TESTS[code]
    status, order = await api.post(f"/api/v1/patients/{pid}/lab-orders",
                                   {"test": test.name, "code": code})
    assert status == 201, order
    return pid, str(order["id"])


async def _result(api: Api, pid: str) -> dict[str, Any]:
    _, chart = await api.get(f"/api/v1/patients/{pid}")
    [result] = chart["lab_results"]
    return dict(result)


@pytest.mark.asyncio
async def test_a_positive_malaria_test_is_positive_and_never_normal(memory_api: Api) -> None:
    pid, order = await _ordered(memory_api, "malaria_rdt")
    base = f"/api/v1/patients/{pid}/lab-results"
    status, body = await memory_api.post(base, {"order_id": order, "value": "Positive",
                                                "interpretation": "normal"})
    assert (status, body["field"]) == (400, "interpretation"), body
    status, body = await memory_api.post(base, {"order_id": order, "value": "maybe"})
    assert (status, body["field"]) == (400, "value"), body
    status, body = await memory_api.post(base, {"order_id": order, "value": "Positive"})
    assert status == 201, body
    result = await _result(memory_api, pid)
    assert (result["value"], result["interpretation"]) == ("positive", "positive")


@pytest.mark.asyncio
@pytest.mark.parametrize(("value", "flag"), [(9.1, "abnormal"), (13.2, "normal"),
                                             (6.2, "critical")])
async def test_haemoglobin_is_judged_against_the_range_for_her_sex_and_age(
    memory_api: Api, value: float, flag: str,
) -> None:
    pid, order = await _ordered(memory_api, "hb")  # a woman born in 1990
    status, body = await memory_api.post(f"/api/v1/patients/{pid}/lab-results",
                                         {"order_id": order, "value": value})
    assert status == 201, body
    result = await _result(memory_api, pid)
    assert result["interpretation"] == flag
    assert (result["reference_low"], result["reference_high"], result["unit"]) == (
        12.0, 15.5, "g/dL")


def test_reference_ranges_follow_sex_and_age() -> None:
    hb = LAB_TESTS["hb"]
    assert (reference(hb, "male", 40).low, reference(hb, "male", 40).high) == (13.0, 17.0)
    assert reference(hb, "female", 3).low == 11.0  # a child under 5, boy or girl
    assert reference(LAB_TESTS["malaria_rdt"], "female", 30) is None


@pytest.mark.asyncio
async def test_a_number_test_refuses_words(memory_api: Api) -> None:
    pid, order = await _ordered(memory_api, "hb")
    status, body = await memory_api.post(f"/api/v1/patients/{pid}/lab-results",
                                         {"order_id": order, "value": "low"})
    assert (status, body["field"]) == (400, "value"), body


@pytest.mark.asyncio
async def test_a_critical_result_marks_the_patient_in_the_queue(memory_api: Api) -> None:
    pid, order = await _ordered(memory_api, "hb")
    await memory_api.post(f"/api/v1/patients/{pid}/lab-results",
                          {"order_id": order, "value": 5.8})
    [waiting] = await memory_api.clinic.waiting()
    assert waiting.critical_results == ("Haemoglobin",)
