"""A chart's visits for the consultation page and the referral letter: each encounter with
what was recorded in it (the consultation's sections, diagnoses, medicines, referrals), newest
first. Rendering only: which entries are live was decided by the chart's own statuses."""

from __future__ import annotations

from dataclasses import dataclass, field

from ui.records import Chart, ChartEntry

IN_VISIT = ("consultation", "diagnosis", "prescription", "referral")


@dataclass
class Visit:
    """One encounter and its live entries by kind (a consultation corrected twice shows once)."""

    encounter: ChartEntry
    entries: dict[str, list[ChartEntry]] = field(default_factory=dict)

    def of(self, kind: str) -> list[ChartEntry]:
        """The visit's live entries of `kind`, oldest first."""
        return self.entries.get(kind, [])

    @property
    def consultation(self) -> ChartEntry | None:
        """The visit's latest live consultation."""
        found = self.of("consultation")
        return found[-1] if found else None


def past_visits(chart: Chart) -> list[Visit]:
    """Every live encounter of the chart with its entries, newest first."""
    superseded = {e.supersedes for e in chart.entries if e.supersedes}
    visits = {e.id: Visit(e) for e in chart.of_kind("encounter")}
    for entry in chart.entries:
        visit = visits.get(str(entry.data.get("encounter_id")))
        if visit is not None and entry.kind in IN_VISIT and not entry.voided \
                and entry.id not in superseded:
            visit.entries.setdefault(entry.kind, []).append(entry)
    return sorted(visits.values(), key=lambda v: v.encounter.at_ms, reverse=True)


def referral_visit(chart: Chart, referral_id: str) -> tuple[ChartEntry, Visit | None]:
    """A referral entry and the visit it was written in; KeyError when not in the chart."""
    referral = next(e for e in chart.entries if e.id == referral_id and e.kind == "referral")
    visit = next((v for v in past_visits(chart)
                  if v.encounter.id == referral.data.get("encounter_id")), None)
    return referral, visit
