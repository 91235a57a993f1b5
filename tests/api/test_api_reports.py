"""The report of a period through the API: the same figures as the UI's reports page."""

from __future__ import annotations

from datetime import date

import pytest
from api_helpers import Api


@pytest.mark.asyncio
async def test_the_report_of_a_period_counts_visits_and_diagnoses(api: Api) -> None:
    today = date.today().isoformat()
    patient_id = await api.register()
    status, _ = await api.post(f"/api/v1/patients/{patient_id}/diagnoses",
                               {"code": "B54", "label": "Malaria"})
    assert status == 201
    status, report = await api.get("/api/v1/reports", first=today, last=today)
    assert status == 200
    assert report["visits"] == 1 and report["visits_per_day"] == {today: 1}
    assert report["top_diagnoses"] == [["B54", 1]]
    assert report["diagnoses"]["B54"]["25-49"]["female"] == 1  # born 1990
    assert sum(sum(s.values()) for s in report["diagnoses"]["B54"].values()) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("query", [{}, {"first": "2026-13-01"},
                                   {"first": "2026-03-10", "last": "2026-03-01"},
                                   {"first": "2024-01-01", "last": "2026-01-01"}])
async def test_a_bad_period_is_refused(api: Api, query: dict[str, str]) -> None:
    status, body = await api.get("/api/v1/reports", **query)
    assert status == 400 and body["error"] == "invalid"
