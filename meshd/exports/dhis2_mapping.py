"""The DHIS2 mapping file: which clinicmesh count goes to which data element and category
option combo of which org unit. Parsed strictly (a typo in a mapping would send wrong numbers
to a ministry), every error naming the field at fault. Pure; docs/exports.md documents it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crdt_model.errors import ValidationError
from crdt_model.validate import SEXES, reject_unknown, require_mapping

VISIT_COUNTS = ("visits", "new_visits", "follow_up_visits", "diagnosis_visits", "referrals")
STOCK_COUNTS = ("stock_on_hand", "stock_consumed", "stock_received")
DISAGGREGATIONS = ((), ("sex",), ("age",), ("age", "sex"))
DEFAULT_COMBO = "default"
_UID = re.compile(r"[A-Za-z][A-Za-z0-9]{10}")
_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?")
_ICD10_RANGE = re.compile(r"([A-Z][0-9]{2})-([A-Z][0-9]{2})")
_TOP_KEYS = ("format", "version", "org_unit", "data_set", "attribute_option_combo",
             "include_zeros", "age_groups", "data_elements", "comment")
_ELEMENT_KEYS = ("uid", "name", "count", "by", "age_groups", "category_option_combos",
                 "icd10", "drug_id", "comment")
FORMAT = "clinicmesh-dhis2-mapping"


@dataclass(frozen=True, slots=True)
class AgeGroup:
    """Ages in whole years from `low` to `high` inclusive (no upper bound when None)."""

    name: str
    low: int
    high: int | None

    def holds(self, age: int) -> bool:
        """Whether `age` falls in this group."""
        return self.low <= age and (self.high is None or age <= self.high)


@dataclass(frozen=True, slots=True)
class DataElement:
    """One DHIS2 data element: what it counts, how it is disaggregated, where values go."""

    uid: str
    name: str
    count: str
    by: tuple[str, ...]
    age_groups: tuple[AgeGroup, ...]
    combos: Mapping[str, str]
    icd10: tuple[str, ...]
    drug_id: str | None

    def combo_key(self, age: int | None, sex: str) -> str | None:
        """The key of `combos` a patient of this age and sex counts under (None: no group)."""
        parts = []
        for dimension in self.by:
            if dimension == "sex":
                parts.append(sex)
                continue
            group = next((g for g in self.age_groups if age is not None and g.holds(age)), None)
            if group is None:
                return None
            parts.append(group.name)
        return "/".join(parts) if parts else DEFAULT_COMBO

    def matches(self, code: object) -> bool:
        """Whether an ICD-10 code is one this element counts (a code covers its subcodes)."""
        if not isinstance(code, str):
            return False
        for pattern in self.icd10:
            span = _ICD10_RANGE.fullmatch(pattern)
            if span and span.group(1) <= code[:3] <= span.group(2):
                return True
            if code == pattern or code.startswith(pattern + "."):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Dhis2Mapping:
    """A whole mapping file."""

    org_unit: str
    data_set: str | None
    attribute_option_combo: str | None
    include_zeros: bool
    elements: tuple[DataElement, ...]


def _uid(value: object, field: str) -> str:
    if not isinstance(value, str) or not _UID.fullmatch(value):
        raise ValidationError(f"{field} must be a DHIS2 uid (11 letters and digits)", field=field)
    return value


def _age_groups(raw: object) -> dict[str, tuple[AgeGroup, ...]]:
    groupings = require_mapping(raw if raw is not None else {}, "age_groups")
    found = {}
    for name, groups in groupings.items():
        if not isinstance(groups, list) or not groups:
            raise ValidationError(f"age_groups.{name} must be a list of groups", field="age_groups")
        parsed = []
        for i, group in enumerate(groups):
            where = f"age_groups.{name}[{i}]"
            item = require_mapping(group, where)
            reject_unknown(item, ("name", "min_years", "max_years"), f"{where}.")
            low, high = item.get("min_years", 0), item.get("max_years")
            if not isinstance(item.get("name"), str) or not item["name"] or "/" in item["name"]:
                raise ValidationError(f"{where}.name must be text without '/'", field=where)
            if not isinstance(low, int) or (high is not None and not isinstance(high, int)):
                raise ValidationError(f"{where}: ages are whole years", field=where)
            parsed.append(AgeGroup(item["name"], low, high))
        found[name] = tuple(parsed)
    return found


def _keys(by: tuple[str, ...], groups: tuple[AgeGroup, ...]) -> set[str]:
    keys = [""]
    for dimension in by:
        values = SEXES if dimension == "sex" else [g.name for g in groups]
        keys = [f"{k}/{v}" if k else v for k in keys for v in values]
    return set(keys) if by else {DEFAULT_COMBO}


def _element(raw: object, i: int, groupings: Mapping[str, tuple[AgeGroup, ...]]) -> DataElement:
    where = f"data_elements[{i}]"
    item = require_mapping(raw, where)
    reject_unknown(item, _ELEMENT_KEYS, f"{where}.")
    count = item.get("count")
    if count not in VISIT_COUNTS + STOCK_COUNTS:
        raise ValidationError(
            f"{where}.count must be one of: {', '.join(VISIT_COUNTS + STOCK_COUNTS)}",
            field=f"{where}.count")
    by = tuple(item.get("by") or ())
    if by not in DISAGGREGATIONS or (count in STOCK_COUNTS and by):
        raise ValidationError(f"{where}.by must be [], [sex], [age] or [age, sex] (stock: [])",
                              field=f"{where}.by")
    groups: tuple[AgeGroup, ...] = ()
    if "age" in by:
        groups = groupings.get(str(item.get("age_groups")), ())
        if not groups:
            raise ValidationError(f"{where}.age_groups must name a list in age_groups",
                                  field=f"{where}.age_groups")
    combos = require_mapping(item.get("category_option_combos"), f"{where}.category_option_combos")
    allowed = _keys(by, groups)
    for key, uid in combos.items():
        if key not in allowed:
            raise ValidationError(
                f"{where}.category_option_combos: {key!r} is not one of {sorted(allowed)}",
                field=f"{where}.category_option_combos")
        _uid(uid, f"{where}.category_option_combos.{key}")
    codes = tuple(item.get("icd10") or ())
    if (count == "diagnosis_visits") != bool(codes) or not all(
        isinstance(c, str) and (_ICD10.fullmatch(c) or _ICD10_RANGE.fullmatch(c)) for c in codes
    ):
        raise ValidationError(f"{where}.icd10: diagnosis_visits needs codes such as B54 or "
                              "B50-B54 (and only it takes them)", field=f"{where}.icd10")
    drug = item.get("drug_id")
    if (count in STOCK_COUNTS) != isinstance(drug, str):
        raise ValidationError(f"{where}.drug_id: stock counts need the drug id (and only they)",
                              field=f"{where}.drug_id")
    return DataElement(
        uid=_uid(item.get("uid"), f"{where}.uid"), name=str(item.get("name") or count),
        count=str(count), by=by, age_groups=groups, combos=dict(combos), icd10=codes,
        drug_id=drug if isinstance(drug, str) else None,
    )


def parse_mapping(raw: Any) -> Dhis2Mapping:
    """The mapping in a decoded JSON file; ValidationError naming the field at fault."""
    data = require_mapping(raw, "mapping")
    reject_unknown(data, _TOP_KEYS)
    if data.get("format") != FORMAT or data.get("version") != 1:
        raise ValidationError(f'a mapping starts with "format": "{FORMAT}", "version": 1',
                              field="format")
    groupings = _age_groups(data.get("age_groups"))
    elements = data.get("data_elements")
    if not isinstance(elements, list) or not elements:
        raise ValidationError("data_elements must be a non-empty list", field="data_elements")
    aoc = data.get("attribute_option_combo")
    return Dhis2Mapping(
        org_unit=_uid(data.get("org_unit"), "org_unit"),
        data_set=_uid(data["data_set"], "data_set") if data.get("data_set") else None,
        attribute_option_combo=_uid(aoc, "attribute_option_combo") if aoc else None,
        include_zeros=data.get("include_zeros", True) is not False,
        elements=tuple(_element(e, i, groupings) for i, e in enumerate(elements)),
    )
