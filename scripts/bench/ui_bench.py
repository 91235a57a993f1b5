"""UI page benchmark: p50/p95 server time of each main page with many charts stored.

The service comes from `--factory module:function`; the function (sync or async) takes no
argument and returns a ClinicService, e.g. the daemon's service over a SQLCipher store that
already holds the charts. With `--populate N` the benchmark first registers N patients through
the service (skip it for a store that is already filled), checks some in for today, and walks a
few through triage, consultation, lab and pharmacy so every page has content.

Server time is measured by a middleware placed outside the UI's own, around the handler, so it
includes session handling, service calls and rendering, but not the HTTP client.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from results import Results  # noqa: E402  (beside this script)

from ui.app import setup_ui  # noqa: E402
from ui.auth import hash_pin  # noqa: E402
from ui.service import ClinicService  # noqa: E402

BUDGET_MS = 100.0
ADMIN, ADMIN_PIN = "Bench Admin", "24682468"
GIVEN = ("Amina", "Baraka", "Imani", "Juma", "Neema", "Rehema", "Zawadi", "Wanjiru", "Otieno",
         "Fatuma", "Hassan", "Mercy", "Peter", "Grace", "Kofi", "Aisha", "Moses", "Esther")
FAMILY = ("Otieno", "Wekesa", "Mwangi", "Kamau", "Achieng", "Njoroge", "Mutua", "Odhiambo",
          "Chebet", "Kiprono", "Wanjala", "Barasa", "Nyambura", "Omondi", "Kariuki", "Auma")
VILLAGES = ("Kisumu Ndogo", "Gatwekera", "Soweto", "Lindi", "Makina", "Kianda", "Silanga")


def load_factory(spec: str) -> Callable[[], Any]:
    """`module:function` → the function."""
    module, _, name = spec.partition(":")
    factory: Callable[[], Any] = getattr(importlib.import_module(module), name)
    return factory


async def make_service(spec: str) -> ClinicService:
    made = load_factory(spec)()
    service: ClinicService = await made if inspect.isawaitable(made) else made
    return service


async def populate(service: ClinicService, count: int, today: str, seen: int) -> None:
    """Register `count` patients; `seen` of them visit today and cross the stations."""
    rng = random.Random(7)
    if await service.facility() is None:
        await service.set_up_facility("Bench Clinic", ADMIN, hash_pin(ADMIN_PIN), "en")
    admin = next(u for u in await service.users() if u.name == ADMIN)
    drug = await service.add_drug("Paracetamol 500 mg", "tablet", 100, by=admin.id)
    await service.receive_stock(drug, 10_000, "bench", by=admin.id)
    started = time.perf_counter()
    ids = []
    for i in range(count):
        ids.append(await service.register_patient({
            "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
            "sex": rng.choice(("female", "male")), "estimated_age_years": rng.randint(0, 90),
            "village": rng.choice(VILLAGES), "phone": f"+2547{i:08d}",
        }, today, by=admin.id))
    print(f"registered {count} patients in {time.perf_counter() - started:.1f} s")
    for patient in ids[:seen]:
        encounter = await service.check_in(patient, today, by=admin.id)
        await service.record_triage(patient, {
            "encounter_id": encounter, "category": "queue",
            "vitals": {"temperature_c": 36.0 + rng.random() * 3, "pulse_bpm": 70}}, by=admin.id)
        await service.add_diagnosis(patient, {"code": "B54", "label": "Unspecified malaria"},
                                    by=admin.id)
        await service.order_lab(patient, {"test": "Malaria rapid test", "code": "malaria_rdt"},
                                by=admin.id)
        await service.prescribe(patient, {
            "drug": "Paracetamol 500 mg", "drug_id": drug, "dose": 500, "dose_unit": "mg",
            "route": "oral", "frequency": "3x/day", "duration_days": 3, "quantity": 9},
            by=admin.id)
        await service.move_patient(patient, today, rng.choice(("consultation", "lab")),
                                   by=admin.id)


def timing_middleware(samples: dict[str, list[float]]) -> Any:
    @web.middleware
    async def timed(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            key = request.get("bench_page") or request.path
            samples.setdefault(str(key), []).append((time.perf_counter() - started) * 1000)

    return timed


async def run(args: argparse.Namespace) -> int:
    service = await make_service(args.factory)
    today = date.today().isoformat()
    if args.populate:
        await populate(service, args.populate, today, args.seen)
    samples: dict[str, list[float]] = {}
    app = web.Application(middlewares=[timing_middleware(samples)])
    setup_ui(app, service)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        page = await client.get("/login")
        token = (await page.text()).split('name="csrf" value="')[1].split('"')[0]
        login = await client.post("/login", data={"name": ADMIN, "pin": ADMIN_PIN,
                                                  "csrf": token}, allow_redirects=False)
        if login.status != 303:
            print("could not log in as the bench admin", file=sys.stderr)
            return 2
        patients = await service.search_patients("Otieno", 50)
        queued = await service.queue_today(today)
        chart = (queued[0].patient_id if queued else patients[0].id)
        pages = {
            "queue": "/queue", "queue table (live)": "/queue/table",
            "search by name": "/patients?q=otieno", "search misspelt": "/patients?q=odhiamb",
            "search by phone": "/patients?q=0000123", "chart": f"/patients/{chart}",
            "chart + ICD-10 search": f"/patients/{chart}?dx=malaria",
            "triage form": f"/patients/{chart}/triage", "history": f"/patients/{chart}/history",
            "patient card": f"/patients/{chart}/card", "lab worklist": "/lab",
            "pharmacy": "/pharmacy", "review": "/review", "sync": "/sync",
            "reports (day)": "/reports", "reports (month)": "/reports?period=month",
        }
        samples.clear()
        by_page: dict[str, list[float]] = {}
        for name, path in pages.items():
            for _ in range(args.rounds):
                samples.clear()
                response = await client.get(path, headers={"X-Live": "1"})
                await response.read()
                if response.status != 200:
                    print(f"{name}: HTTP {response.status}", file=sys.stderr)
                    break
                by_page.setdefault(name, []).extend(samples.get(path.split("?")[0], []))
    print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    over = 0
    results = Results("ui")
    for name, values in by_page.items():
        values.sort()
        p95 = values[max(0, round(0.95 * len(values)) - 1)]
        over += p95 > BUDGET_MS
        results.add(f"UI page p95: {name}", p95, "ms", f"< {BUDGET_MS:.0f} ms",
                    p95 <= BUDGET_MS)
        print(f"{name:28} {statistics.median(values):8.1f} {p95:8.1f} {values[-1]:8.1f}"
              f"{'  OVER BUDGET' if p95 > BUDGET_MS else ''}")
    print(f"budget: p95 < {BUDGET_MS:.0f} ms per page; {over} page(s) over")
    results.notes.append(f"{args.factory}, {args.rounds} requests per page")
    results.write(args.json)
    return 1 if over and args.strict else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factory", default="scripts.bench.ui_real:memory_service",
                        help="module:function returning a ClinicService (sync or async)")
    parser.add_argument("--populate", type=int, default=50_000,
                        help="patients to register first (0 for an already filled store)")
    parser.add_argument("--seen", type=int, default=200, help="patients visiting today")
    parser.add_argument("--rounds", type=int, default=20, help="requests per page")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over budget")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
