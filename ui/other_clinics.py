"""What a search of the other clinics through the central relay found (records, as in
ui/records.py: no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OtherPatient:
    """A patient of another clinic, found through the central relay."""

    id: str
    given_name: str
    family_name: str
    birth_date: str | None
    village: str | None
    clinic: str


@dataclass(frozen=True, slots=True)
class OtherClinicsFound:
    """The patients found, and whether the relay's upstream (the national relay, for a
    district's clinic) could not be asked, so only the district's clinics were searched."""

    patients: tuple[OtherPatient, ...]
    upstream_unreachable: bool = False
