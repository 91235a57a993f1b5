"""The clinic's report of a period: visits per day, diagnoses by age group and sex, the top
diagnoses and the stock consumed. These are the numbers the DHIS2 export sends: the same
visits (`crdt_model.worklists.visits_of`, projected as visit facts) and the same ledger lines
(dispensed quantities, on this device's local day), so the two never disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from crdt_model.chart_doc import order_key
from crdt_model.errors import ValidationError
from crdt_model.ids import check_day
from meshd.clinic.administration import Administration
from meshd.clinic.base import Caller
from meshd.clinic.projections import local_day

# (first year, last year or None, name): the age groups of the report and its DHIS2 mapping.
AGE_GROUPS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "<1"), (1, 4, "1-4"), (5, 14, "5-14"), (15, 24, "15-24"), (25, 49, "25-49"),
    (50, 64, "50-64"), (65, None, "65+"),
)
UNKNOWN_AGE = "unknown"
SEXES = ("female", "male", "other", "unknown")
TOP_DIAGNOSES = 10
MAX_REPORT_DAYS = 366


@dataclass
class PeriodReport:
    """The figures of the days `first_day`..`last_day` inclusive."""

    first_day: str
    last_day: str
    visits: int = 0
    visits_per_day: dict[str, int] = field(default_factory=dict)
    by_station: dict[str, int] = field(default_factory=dict)
    by_age_sex: dict[str, dict[str, int]] = field(default_factory=dict)
    # ICD-10 code -> age group -> sex -> visits with that diagnosis
    diagnoses: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    top_diagnoses: list[tuple[str, int]] = field(default_factory=list)
    # drug id -> {name, unit, quantity}
    stock_consumed: dict[str, dict[str, Any]] = field(default_factory=dict)


def age_group(age: int | None) -> str:
    """The report's age group of an age in whole years."""
    for low, high, name in AGE_GROUPS:
        if age is not None and low <= age and (high is None or age <= high):
            return name
    return UNKNOWN_AGE


def _days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def summarise(
    first_day: str, last_day: str, visits: Iterable[Mapping[str, Any]],
    ledger: Iterable[Mapping[str, Any]], drugs: Mapping[str, Any],
    day_of: Callable[[int], str] = local_day,
) -> PeriodReport:
    """Count the visit facts and the dispensed ledger lines of the period."""
    report = PeriodReport(first_day, last_day)
    report.visits_per_day = dict.fromkeys(_days(first_day, last_day), 0)
    groups = [name for *_, name in AGE_GROUPS] + [UNKNOWN_AGE]
    report.by_age_sex = {g: dict.fromkeys(SEXES, 0) for g in groups}
    stations: Counter[str] = Counter()
    for visit in visits:
        day = str(visit.get("day"))
        if day not in report.visits_per_day:
            continue
        report.visits += 1
        report.visits_per_day[day] += 1
        stations.update(set(visit.get("stations") or ()))
        group, sex = age_group(visit.get("age_years")), str(visit.get("sex") or "unknown")
        sex = sex if sex in SEXES else "unknown"
        report.by_age_sex[group][sex] += 1
        for code in dict.fromkeys(visit.get("diagnosis_codes") or ()):
            cells = report.diagnoses.setdefault(str(code), {})
            cells.setdefault(group, dict.fromkeys(SEXES, 0))[sex] += 1
    report.by_station = dict(stations)
    totals = {code: sum(sum(s.values()) for s in cells.values())
              for code, cells in report.diagnoses.items()}
    report.top_diagnoses = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_DIAGNOSES]
    for line in ledger:
        quantity = line.get("quantity")
        if line.get("kind") != "dispense" or not isinstance(quantity, int):
            continue
        if not first_day <= day_of(order_key("", line)[0]) <= last_day:
            continue
        drug_id = str(line.get("drug_id"))
        found = drugs.get(drug_id)
        drug = found if isinstance(found, dict) else {}
        row = report.stock_consumed.setdefault(drug_id, {
            "name": str(drug.get("name") or drug_id), "unit": drug.get("unit"), "quantity": 0})
        row["quantity"] -= quantity
    return report


class Reporting(Administration):
    """Reports of a period, for every door."""

    async def period_report(self, first_day: str, last_day: str, caller: Caller) -> PeriodReport:
        """The report of the days `first_day`..`last_day` inclusive (at most a year)."""
        await self.allow(caller, "reports")
        first, last = check_day(first_day, "first_day"), check_day(last_day, "last_day")
        if not 0 <= (date.fromisoformat(last) - date.fromisoformat(first)).days < MAX_REPORT_DAYS:
            raise ValidationError("the period must end after it starts, within a year",
                                  field="last_day")
        visits = await self.visits(first, last)
        root = await self.docs.read(self.facility_doc_id, lambda doc: doc.to_dict())
        ledger, drugs = root.get("ledger"), root.get("drugs")
        lines = [v for v in (ledger.values() if isinstance(ledger, dict) else ())
                 if isinstance(v, dict)]
        return summarise(first, last, visits, lines, drugs if isinstance(drugs, dict) else {})
