"""Checks JSON-ish input (forms, API bodies, files) and returns clean dicts ready to store.

Every failure is a ValidationError naming the field at fault and why. Unknown keys are
REJECTED, not ignored: a misspelt field ("famly_name") silently dropped would lose clinical
data, so the user is told instead. Data written by a newer schema reaches the model through
sync, never through these functions, so rejecting here does not break forward compatibility.
Clinical entries (vitals, prescriptions…) are checked in `crdt_model.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import date, timedelta
from functools import partial
from typing import Any, TypeVar

from crdt_model.errors import InvalidFields, ValidationError
from crdt_model.ids import check_day

T = TypeVar("T")
MAX_NAME_CHARS = 100
MAX_TEXT_CHARS = 4000
MAX_AGE_YEARS = 130
DAYS_PER_YEAR = 365.25

SEXES = ("female", "male", "other", "unknown")
CRITICAL_FIELDS = ("given_name", "family_name", "birth_date", "sex")
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{4,22}[0-9]")
_NEXT_OF_KIN_KEYS = ("name", "relation", "phone")

# Demographic fields a user may write, besides the derived `birth_date_estimated`.
DEMOGRAPHIC_FIELDS = (
    "given_name", "family_name", "sex", "birth_date", "estimated_age_years", "phone",
    "village", "address", "national_id", "clinic_id", "next_of_kin",
)


def require_mapping(data: object, field: str = "data") -> Mapping[str, Any]:
    """`data` if it is a mapping with string keys."""
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise ValidationError(f"{field} must be an object with named fields", field=field)
    return data


def reject_unknown(data: Mapping[str, Any], allowed: Collection[str], prefix: str = "") -> None:
    """Refuse keys outside `allowed` (a typo must not silently drop data)."""
    for key in data:
        if key not in allowed:
            raise ValidationError(f"unknown field {prefix}{key!r}", field=f"{prefix}{key}")


def text(value: object, field: str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """A stripped, non-empty string of at most `max_chars`."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text", field=field)
    clean = value.strip()
    if not clean:
        raise ValidationError(f"{field} must not be empty", field=field, problem="missing")
    if len(clean) > max_chars:
        raise ValidationError(f"{field} is longer than {max_chars} characters", field=field,
                              problem="too_long", limits=(max_chars,))
    return clean


def name(value: object, field: str) -> str:
    """A person's or a thing's name: non-empty text up to MAX_NAME_CHARS."""
    return text(value, field, max_chars=MAX_NAME_CHARS)


_ATC = re.compile(r"[A-Z](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?")


def atc_code(value: object, field: str = "atc") -> str:
    """A WHO ATC code of a class or substance ("J01C", "J01CA04")."""
    if not isinstance(value, str) or not _ATC.fullmatch(value):
        raise ValidationError("an ATC code looks like J01C or J01CA04", field=field)
    return value


def each(checks: Mapping[str, Callable[[], T]]) -> dict[str, T]:
    """Every check's result by key; when some fail, InvalidFields names each failure at once."""
    results: dict[str, T] = {}
    errors: list[ValidationError] = []
    for key, check in checks.items():
        try:
            results[key] = check()
        except InvalidFields as exc:
            errors.extend(exc.errors)
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise InvalidFields(errors)
    return results


def missing(field: str, message: str) -> Callable[[], None]:
    """A check that fails: `field` is required and absent."""

    def fail() -> None:
        raise ValidationError(message, field=field, problem="missing")

    return fail


def choice(value: object, field: str, options: Collection[str]) -> str:
    """`value` if it is one of `options`."""
    if value is None or value == "":
        raise ValidationError(f"{field} is required", field=field, problem="missing")
    if not isinstance(value, str) or value not in options:
        raise ValidationError(
            f"{field} must be one of: {', '.join(sorted(options))}", field=field
        )
    return value


def number(value: object, field: str, low: float, high: float) -> float | int:
    """A number (not a bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{field} must be a number", field=field)
    if value != value or not low <= value <= high:  # NaN fails the first test
        raise ValidationError(f"{field} must be between {low:g} and {high:g}", field=field,
                              problem="out_of_range", limits=(low, high))
    return value


def integer(value: object, field: str, low: int, high: int) -> int:
    """A whole number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be a whole number", field=field)
    if not low <= value <= high:
        raise ValidationError(f"{field} must be between {low} and {high}", field=field,
                              problem="out_of_range", limits=(low, high))
    return value


def phone(value: object, field: str) -> str:
    """A phone number: digits with optional +, spaces, dashes, brackets."""
    clean = text(value, field, max_chars=30)
    if not _PHONE.fullmatch(clean):
        raise ValidationError(f"{field} is not a phone number", field=field)
    return clean


def as_day(today: date | str) -> date:
    """`today` as a date (callers pass the clinic's local date; the model reads no clock)."""
    if isinstance(today, date):
        return today
    return date.fromisoformat(check_day(today, "today"))


def birth_date(value: object, today: date) -> str:
    """A birth date that is real, not in the future, and not older than MAX_AGE_YEARS."""
    day = date.fromisoformat(check_day(value, "birth_date"))
    if day > today:
        raise ValidationError("birth_date is in the future", field="birth_date")
    if (today - day).days > MAX_AGE_YEARS * DAYS_PER_YEAR:
        raise ValidationError(f"birth_date is over {MAX_AGE_YEARS} years ago", field="birth_date")
    return day.isoformat()


def next_of_kin(value: object) -> dict[str, str]:
    """{name, relation?, phone?} of the person to call."""
    data = require_mapping(value, "next_of_kin")
    reject_unknown(data, _NEXT_OF_KIN_KEYS, "next_of_kin.")
    clean = {"name": name(data.get("name"), "next_of_kin.name")}
    if data.get("relation") is not None:
        clean["relation"] = name(data["relation"], "next_of_kin.relation")
    if data.get("phone") is not None:
        clean["phone"] = phone(data["phone"], "next_of_kin.phone")
    return clean


def _demographic(key: str, value: object, today: date) -> Any:
    if key in ("given_name", "family_name", "village"):
        return name(value, key)
    if key == "sex":
        return choice(value, key, SEXES)
    if key == "birth_date":
        return birth_date(value, today)
    if key == "estimated_age_years":
        return number(value, key, 0, MAX_AGE_YEARS)
    if key == "phone":
        return phone(value, key)
    if key in ("national_id", "clinic_id"):
        return text(value, key, max_chars=40)
    if key == "next_of_kin":
        return next_of_kin(value)
    return text(value, key, max_chars=400)  # address


def _estimate_birth(age_years: float | int, today: date) -> str:
    return (today - timedelta(days=round(age_years * DAYS_PER_YEAR))).isoformat()


def _clean_demographics(
    data: Mapping[str, Any], today: date, required: Mapping[str, Callable[[], None]] | None = None,
) -> dict[str, Any]:
    reject_unknown(data, DEMOGRAPHIC_FIELDS)
    checks: dict[str, Callable[[], Any]] = {**(required or {})}
    for key, value in data.items():
        if value is not None:
            checks[key] = partial(_demographic, key, value, today)
    clean = each(checks)  # a required check only ever fails, so `clean` holds given fields
    if "birth_date" in clean and "estimated_age_years" in clean:
        raise ValidationError(
            "give birth_date or estimated_age_years, not both", field="estimated_age_years"
        )
    if "estimated_age_years" in clean:
        # The age is turned into an estimated birth date so searches and ages stay uniform.
        clean["birth_date"] = _estimate_birth(clean.pop("estimated_age_years"), today)
        clean["birth_date_estimated"] = True
    elif "birth_date" in clean:
        clean["birth_date_estimated"] = False
    return clean


def registration(data: object, today: date | str) -> dict[str, Any]:
    """Clean demographics of a new patient; names, sex and a birth date or age are required."""
    day = as_day(today)
    raw = require_mapping(data)
    given = {k for k, v in raw.items() if v is not None}
    required = {key: missing(key, f"{key} is required")
                for key in ("given_name", "family_name", "sex") if key not in given}
    if not given & {"birth_date", "estimated_age_years"}:
        required["birth_date"] = missing(
            "birth_date", "birth_date or estimated_age_years is required")
    return _clean_demographics(raw, day, required)


def demographics_update(data: object, today: date | str) -> dict[str, Any]:
    """Clean changed demographics; None clears an optional field, never a critical one."""
    day = as_day(today)
    raw = require_mapping(data)
    if not raw:
        raise ValidationError("nothing to update", field="data")
    clean: dict[str, Any] = _clean_demographics(raw, day)
    for key, value in raw.items():
        if value is None:
            if key in CRITICAL_FIELDS or key == "estimated_age_years":
                raise ValidationError(f"{key} can't be cleared", field=key)
            clean[key] = None
    return clean
