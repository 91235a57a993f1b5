"""Reports: daily or monthly counts by station, diagnoses by ICD-10 chapter, age and sex;
tables with simple SVG bars, and the same figures as CSV."""

from __future__ import annotations

import calendar
import csv
import io
from dataclasses import dataclass, field
from datetime import date

from aiohttp import web

from ui import icd10
from ui.charts import bar_widths
from ui.i18n import N_
from ui.i18n import gettext as _
from ui.records import STATIONS, VisitFact
from ui.web import render, require, service, today

routes = web.RouteTableDef()
AGE_BANDS = ((0, 0, "<1"), (1, 4, "1–4"), (5, 14, "5–14"), (15, 24, "15–24"),
             (25, 49, "25–49"), (50, 64, "50–64"), (65, 200, "65+"))
UNKNOWN_AGE = N_("Unknown")


@dataclass
class Report:
    """The figures of one period."""

    first_day: str
    last_day: str
    visits: int = 0
    by_station: dict[str, int] = field(default_factory=dict)
    by_chapter: dict[str, int] = field(default_factory=dict)
    chapter_titles: dict[str, str] = field(default_factory=dict)
    by_age_sex: dict[str, dict[str, int]] = field(default_factory=dict)


def age_band(age: int | None) -> str:
    """The report's age band of an age in years."""
    if age is None:
        return UNKNOWN_AGE
    return next((label for low, high, label in AGE_BANDS if low <= age <= high), UNKNOWN_AGE)


def summarise(first_day: str, last_day: str, visits: list[VisitFact]) -> Report:
    """Count visits per station, diagnoses per chapter, and visits per age band and sex."""
    report = Report(first_day, last_day, visits=len(visits))
    report.by_station = {s: 0 for s in STATIONS if s != "done"}
    report.by_age_sex = {label: {} for *_, label in AGE_BANDS}
    for visit in visits:
        for station in set(visit.stations):
            if station in report.by_station:
                report.by_station[station] += 1
        for code in visit.diagnosis_codes:
            number, title = icd10.chapter(code)
            report.by_chapter[number] = report.by_chapter.get(number, 0) + 1
            report.chapter_titles[number] = title
        band = report.by_age_sex.setdefault(age_band(visit.age_years), {})
        band[visit.sex] = band.get(visit.sex, 0) + 1
    return report


def period(request: web.Request) -> tuple[str, str, str]:
    """(kind, first day, last day) from ?period=day|month&day=YYYY-MM-DD (default: today)."""
    kind = "month" if request.query.get("period") == "month" else "day"
    try:
        day = date.fromisoformat(request.query.get("day", "") or today(request))
    except ValueError:
        day = date.fromisoformat(today(request))
    if kind == "day":
        return kind, day.isoformat(), day.isoformat()
    last = calendar.monthrange(day.year, day.month)[1]
    return kind, day.replace(day=1).isoformat(), day.replace(day=last).isoformat()


async def _report(request: web.Request) -> tuple[str, Report]:
    require(request, "reports")
    kind, first, last = period(request)
    return kind, summarise(first, last, await service(request).visits(first, last))


@routes.get("/reports")
async def reports(request: web.Request) -> web.StreamResponse:
    """The period's figures as tables and bars."""
    kind, report = await _report(request)
    return render(request, "reports.html", kind=kind, report=report,
                  day=request.query.get("day", "") or today(request),
                  station_bars=bar_widths(report.by_station),
                  chapter_bars=bar_widths(report.by_chapter),
                  sexes=("female", "male", "other", "unknown"))


@routes.get("/reports.csv")
async def reports_csv(request: web.Request) -> web.StreamResponse:
    """The same figures as CSV (section, key, count), headers in the user's language."""
    kind, report = await _report(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Section"), _("Item"), _("Count")])
    writer.writerow([_("Visits"), f"{report.first_day}..{report.last_day}", report.visits])
    for station, count in report.by_station.items():
        writer.writerow([_("Station"), station, count])
    for number, count in sorted(report.by_chapter.items()):
        writer.writerow([_("ICD-10 chapter"), f"{number} {_(report.chapter_titles[number])}",
                         count])
    for band, sexes in report.by_age_sex.items():
        for sex, count in sorted(sexes.items()):
            writer.writerow([_("Age and sex"), f"{_(band)} {sex}", count])
    name = f"clinicmesh-{kind}-{report.first_day}.csv"
    return web.Response(text=out.getvalue(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
