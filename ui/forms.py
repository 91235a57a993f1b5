"""Reading posted forms: strings to numbers, and errors shown next to their field.

A form that fails keeps what the user typed and stores nothing. Messages are translated when
they are made (the request's language is active then).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from crdt_model.errors import (
    ClinicMeshError,
    ConflictError,
    InvalidFields,
    NotFound,
    ValidationError,
)
from ui.clinical import VITALS_BY_KEY
from ui.i18n import fmt_number
from ui.i18n import gettext as _

Errors = dict[str, str]


async def posted_text(request: web.Request) -> dict[str, str]:
    """The text fields of a posted form (file uploads are not text and are left out)."""
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


def text_value(form: Mapping[str, Any], key: str) -> str:
    """The stripped text of a field ('' when absent or not text)."""
    value = form.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def number_value(form: Mapping[str, Any], key: str, errors: Errors) -> float | None:
    """A decimal number (comma or point), None when empty; a message in `errors` if not one."""
    raw = text_value(form, key).replace(",", ".").replace(" ", "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[key] = _("Please write a number.")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        errors[key] = _("Please write a number.")
        return None
    return value


def int_value(form: Mapping[str, Any], key: str, errors: Errors) -> int | None:
    """A whole number, None when empty; a message in `errors` if not one."""
    value = number_value(form, key, errors)
    if value is None:
        return None
    if value != int(value):
        errors[key] = _("Please write a whole number.")
        return None
    return int(value)


def vital_message(key: str) -> str:
    """"Temperature must be between 30 and 45 °C." in the current language."""
    sign = VITALS_BY_KEY[key]
    return _("%(name)s must be between %(low)s and %(high)s %(unit)s.") % {
        "name": _(sign.label), "low": fmt_number(sign.low), "high": fmt_number(sign.high),
        "unit": sign.unit,
    }


def _field_messages() -> dict[str, str]:
    return {
        "given_name": _("Please write the given name."),
        "family_name": _("Please write the family name."),
        "name": _("Please write a name."),
        "sex": _("Please choose the sex."),
        "birth_date": _("The birth date must be a real date, not in the future, "
                        "and less than 130 years ago."),
        "estimated_age_years": _("The age must be a number of years between 0 and 130."),
        "phone": _("This is not a phone number."),
        "village": _("Please check the village."),
        "category": _("A patient with danger signs can't wait in the green queue."),
        "vitals": _("Please measure at least one vital sign."),
        "dose": _("The dose must be a number above zero."),
        "dose_unit": _("A dose needs a unit (mg, mL, tablet…)."),
        "route": _("Please choose how the medicine is given."),
        "frequency": _("Please choose how often."),
        "duration_days": _("The duration must be between 1 and 365 days."),
        "quantity": _("The quantity must be a whole number above zero."),
        "drug": _("Please choose a medicine."),
        "drug_id": _("Please choose a medicine of the catalogue."),
        "code": _("Please choose a diagnosis from the list."),
        "label": _("Please choose a diagnosis from the list."),
        "substance": _("Please choose or write what the patient is allergic to."),
        "text": _("Please write the note."),
        "test": _("Please choose a test."),
        "value": _("Please write the result."),
        "reason": _("Please write the reason."),
        "presenting_complaint": _("Write at least one section of the consultation."),
        "follow_up": _("The follow-up day must be after today and within a year."),
        "to": _("Please write where the patient is referred to."),
        "roles": _("Choose at least one role."),
        "unit": _("Please write the unit."),
        "reorder_level": _("Please write a whole number of zero or more."),
        "atc": _("An ATC code looks like J01CA04 (the WHO's code of the medicine)."),
        "photo": _("This file is not a photo: choose a JPEG, PNG, GIF or WebP image, or take "
                   "the photo with the camera."),
    }


def error_messages(exc: ClinicMeshError) -> Errors:
    """Every form field's translated message for an error the service raised (bad input names
    each wrong field at once)."""
    found = exc.errors if isinstance(exc, InvalidFields) else [exc]
    return dict(error_message(e) for e in found)


def also_checked(errors: Errors, check: Callable[[], object]) -> Errors:
    """`errors` (what could not be read) with what the clinic's rule `check` finds in the rest
    of the form, so the user sees every problem at once. Nothing is stored by `check`."""
    try:
        check()
    except ValidationError as exc:
        return {**error_messages(exc), **errors}
    return errors


def error_message(exc: ClinicMeshError) -> tuple[str, str]:
    """(form field, translated message) for an error the service raised."""
    field = exc.field or "form"
    if isinstance(exc, ValidationError) and exc.problem == "too_long":
        return field.removeprefix("vitals."), _(
            "Too long: at most %(n)s characters.") % {"n": fmt_number(exc.limits[0])}
    if field.startswith("vitals."):
        key = field.removeprefix("vitals.")
        if key in VITALS_BY_KEY:
            if key == "diastolic_mmhg" and "systolic" in exc.message:
                return key, _("The diastolic pressure must be below the systolic.")
            return key, vital_message(key)
    if isinstance(exc, ConflictError) and field == "name":
        return field, _("This name is already used.")
    if isinstance(exc, NotFound):
        return field, _("This was not found on this device. It may have been removed.")
    if isinstance(exc, ValidationError) and exc.problem == "missing" and field in (
            "birth_date", "category"):
        return field, (_("Please give the birth date or an estimated age.")
                       if field == "birth_date" else _("Please choose a triage category."))
    if isinstance(exc, ValidationError) and field == "quantity" and exc.problem == "out_of_range":
        return field, _("For this dose, frequency and number of days, give between %(low)s and "
                        "%(high)s.") % {"low": fmt_number(exc.limits[0]),
                                        "high": fmt_number(exc.limits[1])}
    if isinstance(exc, ValidationError):
        messages = _field_messages()
        if field in messages:
            return field, messages[field]
        if exc.problem == "out_of_range" and len(exc.limits) == 2:
            return field, _("This must be between %(low)s and %(high)s.") % {
                "low": fmt_number(exc.limits[0]), "high": fmt_number(exc.limits[1])}
        return field, _("Please check this value.")
    return field, _("This could not be saved. Please try again.")
