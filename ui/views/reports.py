"""Reports: visits per day, diagnoses by age group and sex, top diagnoses, stock consumed, the
stations and ICD-10 chapters of a day or a month; tables with simple SVG bars, and the same
figures as CSV. The figures come from the clinic core (the numbers the DHIS2 export sends);
this module only arranges them."""

from __future__ import annotations

import calendar
import csv
import io
from datetime import date

from aiohttp import web

from ui import icd10
from ui.charts import bar_widths
from ui.i18n import N_
from ui.i18n import gettext as _
from ui.records import STATIONS, PeriodReport
from ui.web import render, require, service, today

routes = web.RouteTableDef()
UNKNOWN_AGE = N_("Unknown")
SEXES = ("female", "male", "other", "unknown")


def age_label(group: str) -> str:
    """An age group as people read it ("unknown" in their language)."""
    return _(UNKNOWN_AGE) if group == "unknown" else group


def diagnosis_label(code: str) -> str:
    """`code` with its label from the ICD-10 list, when known."""
    found = icd10.lookup(code)
    return f"{code} {found.label}" if found else code


def by_chapter(report: PeriodReport) -> tuple[dict[str, int], dict[str, str]]:
    """Visits with a diagnosis per ICD-10 chapter, and the chapters' titles."""
    counts: dict[str, int] = {}
    titles: dict[str, str] = {}
    for code, groups in report.diagnoses.items():
        number, title = icd10.chapter(code)
        counts[number] = counts.get(number, 0) + sum(sum(s.values()) for s in groups.values())
        titles[number] = title
    return counts, titles


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


async def _report(request: web.Request) -> tuple[str, PeriodReport]:
    who = require(request, "reports")
    kind, first, last = period(request)
    return kind, await service(request).period_report(first, last, by=who.id)


@routes.get("/reports")
async def reports(request: web.Request) -> web.StreamResponse:
    """The period's figures as tables and bars."""
    kind, report = await _report(request)
    chapters, titles = by_chapter(report)
    stations = {s: report.by_station.get(s, 0) for s in STATIONS if s != "done"}
    consumed = {k: int(v["quantity"]) for k, v in report.stock_consumed.items()}
    return render(request, "reports.html", kind=kind, report=report,
                  day=request.query.get("day", "") or today(request),
                  stations=stations, station_bars=bar_widths(stations),
                  chapters=chapters, chapter_titles=titles, chapter_bars=bar_widths(chapters),
                  day_bars=bar_widths(dict(report.visits_per_day)),
                  top_bars=bar_widths(dict(report.top_diagnoses)),
                  stock_bars=bar_widths(consumed), diagnosis_label=diagnosis_label,
                  age_label=age_label, sexes=SEXES)


@routes.get("/reports.csv")
async def reports_csv(request: web.Request) -> web.StreamResponse:
    """The same figures as CSV (section, item, count), headers in the user's language."""
    kind, report = await _report(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Section"), _("Item"), _("Count")])
    writer.writerow([_("Visits"), f"{report.first_day}..{report.last_day}", report.visits])
    for day, count in report.visits_per_day.items():
        writer.writerow([_("Visits per day"), day, count])
    for station in STATIONS[:-1]:
        writer.writerow([_("Station"), station, report.by_station.get(station, 0)])
    chapters, titles = by_chapter(report)
    for number, count in sorted(chapters.items()):
        writer.writerow([_("ICD-10 chapter"), f"{number} {_(titles[number])}", count])
    for code, count in report.top_diagnoses:
        writer.writerow([_("Top diagnoses"), diagnosis_label(code), count])
    for code, groups in sorted(report.diagnoses.items()):
        for group, sexes in groups.items():
            for sex, count in sexes.items():
                if count:
                    writer.writerow([_("Diagnosis by age and sex"),
                                     f"{code} {age_label(group)} {sex}", count])
    for group, sexes in report.by_age_sex.items():
        for sex, count in sexes.items():
            if count:
                writer.writerow([_("Age and sex"), f"{age_label(group)} {sex}", count])
    for row in report.stock_consumed.values():
        writer.writerow([_("Stock consumed"), f"{row['name']} ({row['unit'] or ''})",
                         row["quantity"]])
    name = f"clinicmesh-{kind}-{report.first_day}.csv"
    return web.Response(text=out.getvalue(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
