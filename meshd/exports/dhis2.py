"""DHIS2 aggregate counts of one period from charts and the facility's stock ledger. Pure.

Visits are those of the reports page (`crdt_model.worklists.visits_of`: a day with a live
encounter), so DHIS2 and the clinic's own report agree. A visit is *new* when it is the
chart's first, *follow-up* otherwise; a *referral* is a visit whose live triage records the
ETAT `referral` sign. A patient whose age or sex has no mapped category option combo is counted
in `unmapped`, never silently dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from crdt_model.worklists import visits_of
from meshd.exports.chart_read import Chart, Local, at_ms, referral_days
from meshd.exports.dhis2_mapping import STOCK_COUNTS, DataElement, Dhis2Mapping

CSV_HEADER = ("dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value",
              "storedby", "lastupdated", "comment", "followup")


class Dhis2Tally:
    """Counts per (data element, category option combo) for the days first..last inclusive."""

    def __init__(self, mapping: Dhis2Mapping, period: str, first_day: str, last_day: str) -> None:
        self.mapping = mapping
        self.period = period
        self.first_day, self.last_day = first_day, last_day
        self.counts: Counter[tuple[str, str]] = Counter()
        self.unmapped: Counter[str] = Counter()

    def _count(self, element: DataElement, age: int | None, sex: str) -> None:
        key = element.combo_key(age, sex)
        if key is None or key not in element.combos:
            self.unmapped[element.uid] += 1
        else:
            self.counts[(element.uid, key)] += 1

    def add_chart(self, chart: Chart) -> None:
        """Count the visits of one chart that fall in the period."""
        visits = visits_of(chart.root, chart.day)
        referred = referral_days(chart)
        for number, visit in enumerate(visits):
            if not self.first_day <= visit["day"] <= self.last_day:
                continue
            happened = {
                "visits": True, "new_visits": number == 0, "follow_up_visits": number > 0,
                "referrals": visit["day"] in referred,
            }
            for element in self.mapping.elements:
                if element.count == "diagnosis_visits":
                    counted = any(element.matches(c) for c in visit["diagnosis_codes"])
                else:
                    counted = happened.get(element.count, False)
                if counted:
                    self._count(element, visit["age_years"], str(visit["sex"]))

    def add_facility(self, root: Mapping[str, Any], local: Local) -> None:
        """Stock on hand at the period's end, and consumed and received during it."""
        ledger = root.get("ledger")
        moves = [m for m in (ledger.values() if isinstance(ledger, dict) else ())
                 if isinstance(m, dict) and isinstance(m.get("quantity"), int)]
        for element in self.mapping.elements:
            if element.count not in STOCK_COUNTS:
                continue
            total = 0
            for move in moves:
                if move.get("drug_id") != element.drug_id:
                    continue
                day = local(at_ms(move)).date().isoformat()
                if element.count == "stock_on_hand" and day <= self.last_day:
                    total += move["quantity"]
                elif self.first_day <= day <= self.last_day:
                    if element.count == "stock_consumed" and move.get("kind") == "dispense":
                        total -= move["quantity"]
                    elif element.count == "stock_received" and move.get("kind") == "receive":
                        total += move["quantity"]
            self.counts[(element.uid, "default")] += total

    def data_values(self) -> list[dict[str, str]]:
        """DHIS2 dataValues, in mapping order (zeros too, unless the mapping says not)."""
        values = []
        for element in self.mapping.elements:
            for key, combo in element.combos.items():
                count = self.counts.get((element.uid, key), 0)
                if count == 0 and not self.mapping.include_zeros:
                    continue
                value = {
                    "dataElement": element.uid, "period": self.period,
                    "orgUnit": self.mapping.org_unit, "categoryOptionCombo": combo,
                }
                if self.mapping.attribute_option_combo:
                    value["attributeOptionCombo"] = self.mapping.attribute_option_combo
                values.append({**value, "value": str(count)})
        return values

    def data_value_set(self) -> dict[str, Any]:
        """The dataValueSets JSON body for DHIS2's import."""
        head: dict[str, Any] = {}
        if self.mapping.data_set:
            head["dataSet"] = self.mapping.data_set
        head.update(period=self.period, orgUnit=self.mapping.org_unit)
        if self.mapping.attribute_option_combo:
            head["attributeOptionCombo"] = self.mapping.attribute_option_combo
        return {**head, "dataValues": self.data_values()}

    def csv_rows(self) -> list[tuple[str, ...]]:
        """DHIS2's CSV import form of the same values, header first."""
        rows: list[tuple[str, ...]] = [CSV_HEADER]
        for v in self.data_values():
            rows.append((v["dataElement"], v["period"], v["orgUnit"], v["categoryOptionCombo"],
                         v.get("attributeOptionCombo", ""), v["value"], "", "", "", ""))
        return rows
