"""DHIS2 period ids as day ranges: `2026` year, `2026Q4` quarter, `202611` month, `2026W45` ISO
week, `20261105` day. Pure."""

from __future__ import annotations

import re
from datetime import date, timedelta

from crdt_model.errors import ValidationError

_FORMS = (
    (re.compile(r"(\d{4})"), "year"),
    (re.compile(r"(\d{4})Q([1-4])"), "quarter"),
    (re.compile(r"(\d{4})(\d{2})"), "month"),
    (re.compile(r"(\d{4})W(\d{1,2})"), "week"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), "day"),
)


def _month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _bounds(kind: str, parts: tuple[int, ...]) -> tuple[date, date]:
    year = parts[0]
    if kind == "year":
        return date(year, 1, 1), date(year, 12, 31)
    if kind == "quarter":
        first = 3 * parts[1] - 2
        return date(year, first, 1), _month_end(year, first + 2)
    if kind == "month":
        return date(year, parts[1], 1), _month_end(year, parts[1])
    if kind == "week":
        monday = date.fromisocalendar(year, parts[1], 1)
        return monday, monday + timedelta(days=6)
    day = date(year, parts[1], parts[2])
    return day, day


def period_days(period: str) -> tuple[str, str]:
    """(first day, last day) as YYYY-MM-DD of a DHIS2 period id; ValidationError otherwise."""
    for pattern, kind in _FORMS:
        found = pattern.fullmatch(period.strip())
        if found is None:
            continue
        try:
            first, last = _bounds(kind, tuple(int(g) for g in found.groups()))
        except ValueError:
            break
        return first.isoformat(), last.isoformat()
    raise ValidationError(
        f"period {period!r} is not a DHIS2 period such as 2026, 2026Q4, 202611, 2026W45 or "
        "20261105", field="period",
    )
