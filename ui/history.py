"""A chart's history in the reader's language: each change as a sentence naming what it
recorded (a triage's vitals and note, a result with its test, what a void or a correction
replaced), from the fields the service hands over. Text the clinic typed stays as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ui.clinical import (
    ACTION_LABELS,
    DANGER_SIGN_LABELS,
    DOSE_UNIT_LABELS,
    FIELD_LABELS,
    FREQUENCY_LABELS,
    INTERPRETATION_LABELS,
    LAB_TESTS,
    ROUTE_LABELS,
    SEX_LABELS,
    TRIAGE_LABELS,
    VITALS,
    allergen,
)
from ui.i18n import fmt_date, fmt_number, ngettext
from ui.i18n import gettext as _
from ui.records import HistoryEntry

_TEST_NAMES = {label for label, _unit in LAB_TESTS.values()}


def _label(labels: Mapping[str, str], key: object) -> str:
    return _(labels[str(key)]) if str(key) in labels else str(key)


def _test(name: object) -> str:
    """A lab test's name, in the current language when it is one of the catalogue."""
    return _(str(name)) if name in _TEST_NAMES else str(name or "")


def _vitals(measured: Mapping[str, Any]) -> list[str]:
    shown = []
    for v in VITALS:
        if v.key not in measured or (v.key == "diastolic_mmhg" and "systolic_mmhg" in measured):
            continue
        value = fmt_number(measured[v.key])
        if v.key == "systolic_mmhg" and "diastolic_mmhg" in measured:
            value = f"{value}/{fmt_number(measured['diastolic_mmhg'])}"
            shown.append(f"{_('Blood pressure')} {value} {v.unit}")
        else:
            shown.append(f"{_(v.label)} {value} {v.unit}")
    return shown


def _demographics(data: Mapping[str, Any]) -> list[str]:
    shown = []
    for key, value in data.items():
        if key == "birth_date_estimated":
            continue
        if key == "sex":
            value = _label(SEX_LABELS, value)
        elif key == "birth_date" and value:
            value = fmt_date(str(value)) + (
                f" ({_('estimated')})" if data.get("birth_date_estimated") else "")
        elif isinstance(value, Mapping):
            value = ", ".join(str(v) for v in value.values())
        shown.append(_("%(name)s: %(value)s") % {
            "name": _label(FIELD_LABELS, key), "value": "—" if value is None else value})
    return shown


def _prescription(data: Mapping[str, Any]) -> list[str]:
    shown = [" ".join(str(p) for p in (
        data.get("drug"), fmt_number(data.get("dose") or 0, 2),
        _label(DOSE_UNIT_LABELS, data.get("dose_unit"))))]
    shown += [_label(ROUTE_LABELS, data.get("route")), _label(FREQUENCY_LABELS,
                                                              data.get("frequency"))]
    if data.get("duration_days"):
        days = int(data["duration_days"])
        shown.append(ngettext("%(num)d day", "%(num)d days", days) % {"num": days})
    if data.get("instructions"):
        shown.append(str(data["instructions"]))
    if data.get("override_reason"):
        shown.append(_("prescribed despite the allergy: %(reason)s") % {
            "reason": data["override_reason"]})
    return shown


def what(kind: str, data: Mapping[str, Any]) -> str:
    """What an entry of `kind` with `data` recorded, in the current language."""
    if kind in ("registered", "demographics", "review"):
        parts = _demographics(data)
    elif kind == "triage":
        parts = [_label(TRIAGE_LABELS, data.get("category")), *_vitals(data.get("vitals") or {})]
        parts += [_label(DANGER_SIGN_LABELS, s) for s in data.get("danger_signs") or ()]
    elif kind == "prescription":
        parts = _prescription(data)
    elif kind == "lab_result":
        value = data.get("value")
        shown = fmt_number(value, 2) if isinstance(value, int | float) else str(value)
        parts = [f"{_test(data.get('test'))}: {shown} {data.get('unit') or ''}".strip(" :")]
        if data.get("interpretation"):
            parts.append(_label(INTERPRETATION_LABELS, data["interpretation"]))
    elif kind == "dispensation":
        parts = [f"{data.get('quantity')} × {data.get('drug') or data.get('drug_id')}"]
    elif kind == "diagnosis":
        parts = [f"{data.get('label')} ({data.get('code')})"]
    elif kind == "allergy":
        parts = [allergen(data.get("substance")), str(data.get("reaction") or "")]
    elif kind == "lab_order":
        parts = [_test(data.get("test"))]
    elif kind == "consultation":
        parts = [str(data[k]) for k in ("presenting_complaint", "history", "examination", "plan")
                 if data.get(k)]
        if data.get("follow_up"):
            parts.append(_("Follow-up visit") + ": " + fmt_date(str(data["follow_up"])))
    elif kind == "referral":
        parts = [str(data.get("to") or "")]
    elif kind == "disclosure":  # the clinic the relay handed the chart to
        parts = [str(data.get("clinic") or "")]
    elif kind == "attachment":
        found = data.get("size")
        size = found if isinstance(found, int) else 0
        parts = [str(data.get("name") or ""),
                 _("%(size)s MB") % {"size": fmt_number(size / 1048576, 1)}]
    else:  # note, visit, cancel: their own words
        parts = [str(data[k]) for k in ("text", "chief_complaint") if data.get(k)]
    if data.get("note") and kind not in ("registered", "demographics"):
        parts.append(_("Note: %(text)s") % {"text": data["note"]})
    if data.get("reason"):
        parts.append(_("Reason: %(text)s") % {"text": data["reason"]})
    return "; ".join(p for p in parts if p)


def sentence(change: HistoryEntry) -> str:
    """One line of the chart's history: the act, what it recorded and what it replaced."""
    action = _label(ACTION_LABELS, change.action)
    said = what(change.action, change.data or {})
    if change.replaced is not None:
        old_kind, old = change.replaced
        old_said = what(old_kind, old)
        if change.action in ("void", "prescription_cancel"):
            said = "; ".join(p for p in (old_said, said) if p)
        else:
            action = _("Correction")
            said = _("%(new)s (replaces: %(old)s)") % {"new": said, "old": old_said}
    return _("%(action)s: %(what)s") % {"action": action, "what": said} if said else action
