"""The laboratory's test catalogue and how a result is judged (pure).

Each test says what its result is: one of a few words (a rapid test: positive, negative,
invalid), a number in a unit with reference ranges by sex and age and critical limits, or free
text where nothing else fits (urine dipstick, stool microscopy). A result of a catalogue test is
checked and flagged here, so every door stores the same flag: a number outside its range is
`abnormal`, beyond a critical limit `critical`; a rapid test's word is its own interpretation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crdt_model.errors import ValidationError
from crdt_model.validate import number, text

RAPID = ("positive", "negative", "invalid")


@dataclass(frozen=True, slots=True)
class Range:
    """A reference range for `sex` (None: either) from `min_years` up to `max_years`."""

    low: float
    high: float
    sex: str | None = None
    min_years: float = 0
    max_years: float = 200


@dataclass(frozen=True, slots=True)
class LabTest:
    """A test of the catalogue: `result` is "choice", "number" or "text"."""

    code: str
    name: str
    result: str
    choices: tuple[str, ...] = ()
    unit: str = ""
    ranges: tuple[Range, ...] = ()
    critical_low: float | None = None
    critical_high: float | None = None


LAB_TESTS: dict[str, LabTest] = {t.code: t for t in (
    LabTest("malaria_rdt", "Malaria rapid test", "choice", RAPID),
    LabTest("hb", "Haemoglobin", "number", unit="g/dL", ranges=(
        Range(11.0, 14.0, max_years=5), Range(11.5, 15.5, min_years=5, max_years=12),
        Range(12.0, 15.5, "female", min_years=12), Range(13.0, 17.0, "male", min_years=12),
        Range(12.0, 17.0, min_years=12)), critical_low=7.0, critical_high=20.0),
    LabTest("glucose", "Blood glucose", "number", unit="mmol/L", ranges=(Range(3.9, 7.8),),
            critical_low=2.5, critical_high=25.0),
    LabTest("urine_dipstick", "Urine dipstick", "text"),
    LabTest("hiv_rapid", "HIV rapid test", "choice", RAPID),
    LabTest("pregnancy", "Pregnancy test", "choice", RAPID),
    LabTest("sputum_afb", "Sputum smear (TB)", "choice",
            ("negative", "scanty", "1+", "2+", "3+", "invalid")),
    LabTest("stool", "Stool microscopy", "text"),
)}


def reference(test: LabTest, sex: object, age_years: float | None) -> Range | None:
    """The first range of `test` that fits the patient (an unknown age fits adults)."""
    age = 30.0 if age_years is None else age_years
    for found in test.ranges:
        if found.sex in (None, sex) and found.min_years <= age < found.max_years:
            return found
    return None


def _flag(test: LabTest, value: float, found: Range | None) -> str:
    if (test.critical_low is not None and value < test.critical_low) or (
            test.critical_high is not None and value > test.critical_high):
        return "critical"
    if found is not None and not found.low <= value <= found.high:
        return "abnormal"
    return "normal"


def judged(test: LabTest, clean: Mapping[str, Any], sex: object, age_years: float | None,
           ) -> dict[str, Any]:
    """A cleaned result of `test` with its value checked, its interpretation set and its
    reference range; ValidationError when the value does not fit the test, or a given
    interpretation contradicts it."""
    value = clean["value"]
    result = dict(clean)
    if test.result == "choice":
        word = str(value).strip().casefold()
        if word not in test.choices:
            raise ValidationError(f"the result of {test.name} is one of: "
                                  f"{', '.join(test.choices)}", field="value")
        result["value"] = word
        shown = None if word == "invalid" else ("negative" if word == "negative" else "positive")
    elif test.result == "number":
        if isinstance(value, str):
            raise ValidationError(f"the result of {test.name} is a number in {test.unit}",
                                  field="value")
        result["value"] = number(value, "value", 0, 1e6)
        result["unit"] = test.unit
        found = reference(test, sex, age_years)
        if found is not None:
            result["reference_low"], result["reference_high"] = found.low, found.high
        shown = _flag(test, float(result["value"]), found)
    else:
        result["value"] = text(str(value), "value")
        return result
    given = clean.get("interpretation")
    if given is not None and given != shown:
        raise ValidationError(f"this result is {shown or 'invalid'}, not {given}",
                              field="interpretation")
    if shown is not None:
        result["interpretation"] = shown
    else:
        result.pop("interpretation", None)
    return result
