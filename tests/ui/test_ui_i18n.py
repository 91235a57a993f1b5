"""Four languages: complete catalogs, every page rendered in each language with no English left,
`<html lang>` everywhere, dates and numbers per locale, per-user choice over Accept-Language."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from ui_helpers import ADMIN_PIN, Clock, add_user, log_in, post, set_up
from ui_service.conflicts import add_conflict

import ui
from meshd.clinic_ui.service import NodeClinicService
from ui import i18n

UI_DIR = Path(ui.__file__).parent
TODAY = "2026-03-10"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def extracted_messages() -> set[str | tuple[str, str]]:
    """Every msgid marked in the UI's Python code and templates (as `pybabel extract` does)."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(UI_DIR), method_map, keywords={"_": None, "gettext": None, "N_": None,
                                           "ngettext": (1, 2)}):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def catalog(language: str) -> dict[object, object]:
    with i18n.po_path(language).open("rb") as po:
        return {m.id: m for m in read_po(po, locale=language) if m.id}


def test_every_message_is_translated_in_all_four_catalogs() -> None:
    wanted = extracted_messages()
    assert len(wanted) > 300
    for language in i18n.LANGUAGES:
        messages = catalog(language)
        missing = [m for m in wanted if m not in messages]
        assert not missing, f"{language}: no entry for {missing[:5]}"
        for msgid in wanted:
            entry = messages[msgid]
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            assert all(strings) and not entry.fuzzy, f"{language}: untranslated {msgid!r}"
            source = msgid if isinstance(msgid, str) else msgid[1]
            for text in strings:
                assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(source)), (
                    f"{language}: placeholders differ in {msgid!r}")


def test_accept_language_picks_the_best_supported_language() -> None:
    assert i18n.best_language("de-DE,de;q=0.9,fr;q=0.8,en;q=0.5") == "fr"
    assert i18n.best_language("sw-KE") == "sw"
    assert i18n.best_language("es;q=0.2, en;q=0.9") == "en"
    assert i18n.best_language("de") == "en" and i18n.best_language(None) == "en"


def test_dates_and_numbers_follow_the_locale() -> None:
    with i18n.speaking("fr"):
        assert i18n.fmt_date("2026-03-10") == "10 mars 2026"
        assert i18n.fmt_number(37.5) == "37,5"
    with i18n.speaking("es"):
        assert "mar" in i18n.fmt_date("2026-03-10")
    with i18n.speaking("en"):
        assert i18n.fmt_number(1234.5) == "1,234.5"


def english_only_phrases(language: str) -> set[str]:
    """English msgids whose translation differs in `language` (they must not appear)."""
    phrases = set()
    for msgid, entry in catalog(language).items():
        if isinstance(msgid, str) and entry.string != msgid and "%" not in msgid:
            phrases.add(msgid)
    return phrases


def visible_text(page: str) -> list[str]:
    """The text nodes and attribute labels a person sees or hears."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    labels = re.findall(r'(?:aria-label|placeholder|title)="([^"]*)"', page)
    texts = re.split(r"<[^>]+>", page)
    return [html_lib.unescape(t).strip() for t in [*texts, *labels] if t.strip()]


@pytest_asyncio.fixture
async def busy_clinic(clinic: NodeClinicService, clock: Clock) -> str:
    """A clinic with one patient who went through every station, and some stock."""
    await set_up(clinic)
    pid = await clinic.register_patient({
        "given_name": "Baraka", "family_name": "Otieno", "sex": "male",
        "estimated_age_years": 30, "village": "Kisumu Ndogo"}, TODAY, by="")
    encounter = await clinic.check_in(pid, TODAY, by="")
    await clinic.record_triage(pid, {"encounter_id": encounter, "category": "priority",
                                     "vitals": {"temperature_c": 38.5, "pulse_bpm": 110}}, by="")
    clock.advance(3600)
    await clinic.record_triage(pid, {"encounter_id": encounter, "category": "queue",
                                     "vitals": {"temperature_c": 37.2, "pulse_bpm": 90}}, by="")
    await clinic.add_allergy(pid, {"substance": "Sulfa"}, by="")
    await clinic.add_diagnosis(pid, {"code": "B54", "label": "Unspecified malaria"}, by="")
    order = await clinic.order_lab(pid, {"test": "Malaria rapid test", "code": "malaria_rdt"},
                                   by="")
    await clinic.record_lab_result(pid, {"order_id": order, "value": "positive"}, by="")
    await clinic.record_consultation(pid, {"presenting_complaint": "Fever", "plan": "ACT"},
                                     by="")
    await clinic.refer(pid, {"to": "Kisumu County Hospital", "reason": "Severe anaemia"}, by="")
    await clinic.add_attachment(pid, b"%PDF-1.4 scan", "application/pdf", "scan.pdf",
                                "document", by="")
    drug = await clinic.add_drug("Artemether-lumefantrine", "tablet", 30, by="")
    await clinic.receive_stock(drug, 60, "KEMSA", by="", batch="AL-22", expires="2026-04-01")
    await clinic.prescribe(pid, {"drug": "Artemether-lumefantrine", "drug_id": drug, "dose": 4,
                                 "dose_unit": "tablet", "route": "oral", "frequency": "2x/day",
                                 "duration_days": 3, "quantity": 24}, by="")
    given = await clinic.prescribe(pid, {
        "drug": "Artemether-lumefantrine", "drug_id": drug, "dose": 4, "dose_unit": "tablet",
        "route": "oral", "frequency": "2x/day", "duration_days": 3, "quantity": 24}, by="")
    await clinic.dispense(pid, {"prescription_id": given, "drug_id": drug, "quantity": 24},
                          by="")
    await clinic.move_patient(pid, TODAY, "pharmacy", by="")
    await add_conflict(clinic, pid, "family_name",
                       [("Otiena", "Juma", "tablet-1"), ("Otiende", "Neema", "pc")])
    return pid


PAGES = ["/queue", "/patients", "/patients?q=baraka", "/patients/new", "/patients/{pid}",
         "/patients/{pid}?dx=malaria", "/patients/{pid}/triage", "/patients/{pid}/card",
         "/patients/{pid}/history", "/lab", "/pharmacy", "/review", "/sync", "/reports",
         "/users", "/patients/{pid}/edit", "/patients/{pid}/merge?q=otieno",
         "/patients/{pid}/merge/{pid}", "/patients/{pid}/referrals/{referral}",
         "/patients/{pid}/lab/{order}", "/pharmacy/stock/{drug}",
         "/pharmacy/stock/{drug}?counted=1", "/patients/{pid}/labels/{dispensation}",
         "/pharmacy?label=/patients/{pid}/labels/{dispensation}", "/lock"]


@pytest.mark.asyncio
@pytest.mark.parametrize("language", ["fr", "es", "sw"])
async def test_every_page_is_fully_translated(
    client: TestClient, clinic: NodeClinicService, busy_clinic: str, language: str
) -> None:
    await add_user(clinic, "Juma", "admin", language=language)
    await log_in(client, "Juma")
    english = english_only_phrases(language)
    chart = await clinic.get_chart(busy_clinic, by="")
    ids = {"pid": busy_clinic, "referral": chart.of_kind("referral")[0].id,
           "order": chart.of_kind("lab_order")[0].id,
           "drug": (await clinic.stock())[0].drug_id,
           "dispensation": chart.of_kind("dispensation")[0].id}
    for template in PAGES:
        path = template.format(**ids)
        if path == "/lock":
            await post(client, "/lock/now", {}, page="/queue")
        response = await client.get(path)
        assert response.status == 200, path
        page = await response.text()
        assert f'<html lang="{language}">' in page, path
        leftovers = [t for t in visible_text(page) if t in english]
        assert not leftovers, f"{language} {path}: English left: {leftovers[:5]}"


@pytest.mark.asyncio
async def test_error_pages_and_login_follow_accept_language(
    client: TestClient, clinic: NodeClinicService
) -> None:
    await set_up(clinic)
    page = await (await client.get("/login", headers={"Accept-Language": "es"})).text()
    assert '<html lang="es">' in page and "Iniciar sesión" in page
    response = await client.post("/login", data={"name": "x", "pin": "1"},
                                 headers={"Accept-Language": "sw"})
    assert response.status == 403 and "Fomu hii" in await response.text()


@pytest.mark.asyncio
async def test_a_user_switches_language_and_it_is_remembered(
    client: TestClient, clinic: NodeClinicService
) -> None:
    admin = await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    response = await post(client, "/language", {"language": "fr", "back": "/queue"},
                          page="/queue")
    assert response.headers["Location"] == "/queue"
    page = await (await client.get("/queue")).text()
    assert '<html lang="fr">' in page and "File d'attente du jour" in page
    assert next(u for u in await clinic.users() if u.id == admin.id).language == "fr"
