"""The ICD-10 list, report figures, CSV export and the sync page's plain words."""

from __future__ import annotations

import csv
import io

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import START_S, add_user, log_in, set_up

from meshd.clinic.reports import age_group, summarise
from meshd.clinic_ui.service import NodeClinicService
from ui import icd10
from ui.records import PeerStatus, QuarantineItem, RelayStatus, SyncStatus

TODAY = "2026-03-10"


def test_icd10_search_by_code_prefix_and_by_words() -> None:
    assert icd10.search("B54")[0].code == "B54"
    assert {c.code for c in icd10.search("pneumonia")} >= {"J18.9"}
    assert all("otitis" in c.label.lower() for c in icd10.search("otitis media"))
    assert icd10.search("") == []
    assert icd10.chapter("J18.9") == ("X", "Respiratory system")
    assert icd10.chapter("T63.0")[0] == "XIX"


def test_report_counts_days_stations_diagnoses_by_age_and_sex_and_stock() -> None:
    visits = [
        {"day": TODAY, "sex": "female", "age_years": 0, "stations": ["registration", "lab"],
         "diagnosis_codes": ["B54"]},
        {"day": TODAY, "sex": "male", "age_years": 3, "stations": ["registration"],
         "diagnosis_codes": ["J18.9", "B54", "B54"]},
        {"day": "2026-03-11", "sex": "female", "age_years": 70, "stations": ["registration"],
         "diagnosis_codes": []},
        {"day": "2026-04-01", "sex": "female", "age_years": None, "diagnosis_codes": ["B54"]},
    ]
    at = int(START_S * 1000)
    ledger = [{"kind": "dispense", "drug_id": "al", "quantity": -6, "at": at},
              {"kind": "dispense", "drug_id": "al", "quantity": -4, "at": at},
              {"kind": "receive", "drug_id": "al", "quantity": 100, "at": at},
              {"kind": "dispense", "drug_id": "al", "quantity": -9, "at": at + 86_400_000 * 40}]
    report = summarise(TODAY, "2026-03-12", visits, ledger, {"al": {"name": "AL", "unit": "tab"}},
                       day_of=lambda ms: TODAY if ms == at else "2026-04-19")
    assert report.visits == 3
    assert report.visits_per_day == {TODAY: 2, "2026-03-11": 1, "2026-03-12": 0}
    assert report.by_station == {"registration": 3, "lab": 1}
    assert report.diagnoses["B54"]["<1"]["female"] == 1
    assert report.diagnoses["B54"]["1-4"]["male"] == 1  # once per visit
    assert report.top_diagnoses == [("B54", 2), ("J18.9", 1)]
    assert report.by_age_sex["65+"]["female"] == 1 and report.by_age_sex["unknown"]["male"] == 0
    assert report.stock_consumed == {"al": {"name": "AL", "unit": "tab", "quantity": 10}}
    assert age_group(None) == "unknown" and age_group(65) == "65+"


@pytest.mark.asyncio
async def test_reports_page_and_csv_show_the_days_figures(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    drug = await clinic.add_drug("Artemether-lumefantrine", "tablet", 30, by="")
    await clinic.receive_stock(drug, 100, "", by="")
    for name in ("Imani", "Juma"):
        pid = await clinic.register_patient({"given_name": name, "family_name": "Wekesa",
                                             "sex": "female", "estimated_age_years": 30},
                                            TODAY, by="")
        await clinic.check_in(pid, TODAY, by="")
        await clinic.add_diagnosis(pid, {"code": "J18.9", "label": "Pneumonia, unspecified"},
                                   by="")
        await clinic.prescribe(pid, {"drug": "Artemether-lumefantrine", "drug_id": drug,
                                     "dose": 1, "dose_unit": "tablet", "route": "oral",
                                     "frequency": "2x/day", "duration_days": 3, "quantity": 6},
                               by="")
        rx = (await clinic.get_chart(pid, by="")).of_kind("prescription")[0].id
        await clinic.dispense(pid, {"prescription_id": rx, "drug_id": drug, "quantity": 6},
                              by="")
    await add_user(clinic, "Daktari", "clinician", language="es")
    await log_in(client, "Daktari")
    page = await (await client.get("/reports", params={"day": TODAY})).text()
    assert "2 visitas" in page and "Sistema respiratorio" in page and "<svg" in page
    for section in ("visits-per-day", "top-diagnoses", "diagnoses-by-age-sex", "stock-consumed"):
        assert f'id="{section}"' in page
    assert "Artemether-lumefantrine" in page and "Visitas por día" in page
    response = await client.get("/reports.csv", params={"period": "month", "day": TODAY})
    assert response.headers["Content-Disposition"].endswith('2026-03-01.csv"')
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["Sección", "Elemento", "Número"]
    assert ["Capítulo CIE-10", "X Sistema respiratorio", "2"] in rows
    assert ["Visitas por día", TODAY, "2"] in rows
    assert ["Visitas por día", "2026-03-31", "0"] in rows
    assert ["Diagnósticos más frecuentes", "J18.9 Pneumonia, unspecified", "2"] in rows
    assert ["Diagnóstico por edad y sexo", "J18.9 25-49 female", "2"] in rows
    assert ["Existencias consumidas", "Artemether-lumefantrine (tablet)", "12"] in rows


@pytest.mark.asyncio
async def test_sync_page_says_how_long_the_device_has_been_offline(
    client: TestClient, clinic: NodeClinicService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await set_up(clinic)
    hour_ago = int((START_S - 3 * 3600) * 1000)
    status = SyncStatus(
        device_name="tablet-3",
        peers=(PeerStatus("laptop-1", "192.168.4.7:7701", False, hour_ago, 12, held_back=2),),
        relay=RelayStatus("https://relay.example.org", "unreachable", None),
        pending_changes=12, offline_since_ms=hour_ago,
        quarantine=(QuarantineItem(hour_ago, "tablet-9", "ab" * 32, "chart:x", "a1 was deleted"),),
    )

    async def sync_status() -> SyncStatus:  # what the engine's report becomes: ui_service tests
        return status

    monkeypatch.setattr(clinic, "sync_status", sync_status)
    await add_user(clinic, "Neema", "pharmacy", language="fr")
    await log_in(client, "Neema")
    page = await (await client.get("/sync")).text()
    assert "Hors ligne depuis il y a 3 heures" in page
    assert "12 modifications pas encore partagées" in page and "laptop-1" in page
    assert "Injoignable" in page
    assert "2 dossiers retenus : ils ont été envoyés trop souvent." in page
    assert "Données refusées" in page and "tablet-9" in page and "a1 was deleted" in page


@pytest.mark.asyncio
async def test_icd10_suggestions_are_json_for_clinicians_only(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    found = await (await client.get("/icd10", params={"q": "malaria"})).json()
    assert {"code": "B54", "label": "Unspecified malaria"} in found
    await add_user(clinic, "Rehema", "registration")
    await log_in(client, "Rehema")
    assert (await client.get("/icd10", params={"q": "malaria"})).status == 403
