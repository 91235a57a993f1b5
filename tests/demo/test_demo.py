"""`meshd demo`: the seeded clinic's contents, its users' PINs, and a node that starts."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import typer
from meshd_procs import call_api, free_port, stop_process, wait_until_healthy
from typer.testing import CliRunner

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.ids import directory_id, facility_id
from meshd import demo, identity
from meshd.clinic_ui.mount import pin_hash_key
from meshd.demo_seed import CATALOGUE, NEW_TODAY, STAFF, TODAY_PLAN, seed_clinic
from meshd.store.sqlcipher import SqlCipherStore
from ui.auth import PIN_MIN_DIGITS, check_pin

PATIENTS = 30
START_TIMEOUT_S = 60.0
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _contents(data: identity.DataDir) -> dict[str, Any]:
    async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                              create=False) as store:
        people = Doc.load(await store.read(directory_id(data.identity.mesh_id)) or b"")
        return {
            "charts": await store.count("chart:"),
            "users": directory.users(people),
            "stock": await store.stock_levels(facility_id(data.identity.facility_id)),
            "labs": await store.worklist("lab_order"),
        }


def test_the_demo_clinic_has_its_patients_queue_stock_and_users(tmp_path: Path) -> None:
    clinic = asyncio.run(seed_clinic(tmp_path / "demo", patients=PATIENTS))
    data = identity.load_data_dir(tmp_path / "demo")
    found = asyncio.run(_contents(data))

    assert clinic.patients == found["charts"] == PATIENTS + len(NEW_TODAY)
    assert clinic.queue == dict(Counter(TODAY_PLAN))
    assert len(found["labs"]) == TODAY_PLAN.count("lab")
    assert clinic.drugs == len(found["stock"]) > len(CATALOGUE)  # the essential medicines too
    assert {drug[0] for drug in CATALOGUE} <= set(found["stock"])
    assert all(row.level > 0 for row in found["stock"].values())
    assert sorted(u.role for u in clinic.users) == sorted(role for _, role in STAFF)
    key = pin_hash_key(data)
    for user in clinic.users:
        stored = found["users"][user.user_id]
        assert stored["name"] == user.name and stored["roles"] == [user.role]
        assert len(user.pin) == PIN_MIN_DIGITS and user.pin.isdigit()
        assert check_pin(user.pin, stored["pin_hash"], key), user
        assert not check_pin(f"{(int(user.pin) + 1) % 10**6:06d}", stored["pin_hash"], key)
    shown = demo.banner(clinic, "http://127.0.0.1:7700/")
    assert all(user.pin in shown and user.name in shown for user in clinic.users)


def _app(calls: list[dict[str, Any]]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def run(data_dir: Path = Path("."), api_port: int = 0, peer_port: int = 0, host: str = "",
            peer: list[str] | None = None, relay: str | None = None, no_mdns: bool = False,
            passphrase_file: Path | None = None) -> None:
        calls.append({"data_dir": data_dir, "api_port": api_port, "no_mdns": no_mdns})

    @app.command()
    def other() -> None:
        """A second verb, so typer keeps verb names."""

    demo.register(app)
    return app


def test_the_demo_verb_seeds_prints_the_pins_and_runs_the_node(tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []
    target = tmp_path / "demo"

    done = CliRunner().invoke(_app(calls), ["demo", "--data-dir", str(target), "--patients",
                                            "3", "--api-port", "7999"])

    assert done.exit_code == 0, done.output
    assert "http://127.0.0.1:7999/" in done.stdout
    [options] = calls
    assert options["data_dir"] == target and options["no_mdns"] is True
    assert options["api_port"] == 7999
    data = identity.load_data_dir(target)
    users = asyncio.run(_contents(data))["users"]
    printed = [line.split() for line in done.stdout.splitlines()
               if line.split()[:1] and line.split()[0] in {role for _, role in STAFF}]
    assert len(printed) == len(STAFF)
    for role, *_, pin in printed:
        [stored] = [u for u in users.values() if u["roles"] == [role]]
        assert check_pin(pin, stored["pin_hash"], pin_hash_key(data)), role
    again = CliRunner().invoke(_app(calls), ["demo", "--data-dir", str(target)])
    assert again.exit_code == 0 and len(calls) == 2 and "PIN" not in again.stdout


def test_the_demo_refuses_a_real_data_dir(tmp_path: Path) -> None:
    identity.init_data_dir(tmp_path / "real", device_name="desk")
    calls: list[dict[str, Any]] = []
    refused = CliRunner().invoke(_app(calls), ["demo", "--data-dir", str(tmp_path / "real")])
    assert refused.exit_code == 1 and "real device" in refused.stderr and not calls


def _printed_users(output: str) -> list[tuple[str, str]]:
    """(name, PIN) of each user line of the demo's banner."""
    roles = {role for _, role in STAFF}
    return [(" ".join(words[1:-1]), words[-1]) for words in map(str.split, output.splitlines())
            if len(words) >= 3 and words[0] in roles and words[-1].isdigit()]


async def _log_in_each(base: str, users: list[tuple[str, str]]) -> list[tuple[int, bool]]:
    """Log in with each printed name and PIN in a browser-like session: (status of the page
    the login leads to, whether the login was accepted)."""
    found = []
    for name, pin in users:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            async with client.get(f"{base}/login") as response:
                csrf = CSRF.search(await response.text())
            assert csrf, "no login form"
            async with client.post(f"{base}/login", data={
                    "csrf": csrf.group(1), "name": name, "pin": pin}) as response:
                found.append((response.status, "/login" not in str(response.url)))
    return found


def test_meshd_demo_starts_a_node_that_answers_health(tmp_path: Path) -> None:
    api_port, peer_port = free_port(), free_port()
    script = "from meshd import cli, demo; demo.register(cli.app); cli.app()"
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", script, "demo", "--data-dir", str(tmp_path / "demo"),
             "--patients", "5", "--api-port", str(api_port), "--peer-port", str(peer_port)],
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    try:
        wait_until_healthy(
            process, lambda: call_api(api_port, "", "GET", "/api/v1/health")[0] == 200,
            log_path.read_text, START_TIMEOUT_S)
        printed = _printed_users(log_path.read_text())
        assert len(printed) == len(STAFF)
        pages = asyncio.run(_log_in_each(f"http://127.0.0.1:{api_port}", printed))
        assert pages == [(200, True)] * len(STAFF), pages
    finally:
        assert stop_process(process) == 0, log_path.read_text()

