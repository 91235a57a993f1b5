"""`meshd demo`: a seeded clinic (meshd.demo_seed) served by a node started as `meshd run` does.

The verb is registered by meshd.cli after `run`, whose command it calls, so the demo node is
composed exactly like a real one. It never advertises itself over mDNS: a demo mesh has no
business on a clinic's network.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from crdt_model.errors import ClinicMeshError
from meshd import identity
from meshd.demo_seed import DEFAULT_PATIENTS, DemoClinic, is_demo, seed_clinic
from meshd.node import DEFAULT_API_PORT, DEFAULT_HOST, DEFAULT_PEER_PORT

RunVerb = Callable[..., None]


def run_verb(app: typer.Typer) -> RunVerb:
    """The callback of the app's `run` command (the demo starts its node through it)."""
    for command in app.registered_commands:
        callback = command.callback
        if callback is not None and (command.name or callback.__name__) == "run":
            return callback
    raise RuntimeError("register the demo after the `run` command")


def banner(clinic: DemoClinic, url: str) -> str:
    """What the terminal shows once the demo clinic is seeded: where to go and who to be."""
    width = max(len(user.name) for user in clinic.users)
    queue = ", ".join(f"{count} {station}" for station, count in clinic.queue.items())
    lines = [
        "",
        f"clinicmesh demo: {clinic.patients} made-up patients, {clinic.drugs} drugs in stock,",
        f"today's queue: {queue}.",
        f"Data dir: {clinic.data_dir} (made-up data: delete it when you are done)",
        f"Open {url} and log in as any of these users:",
        "",
        f"  {'role':<13} {'name':<{width}}  PIN",
        *(f"  {user.role:<13} {user.name:<{width}}  {user.pin}" for user in clinic.users),
        "",
        "These PINs are printed only now. Stop the node with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `meshd demo` to the `meshd` app (after `run`, which it calls)."""
    run_node = run_verb(app)

    @app.command()
    def demo(
        data_dir: Annotated[Path | None, typer.Option(
            "--data-dir", help="An empty dir for the demo (default: a new temporary dir); a "
            "demo dir made before is started again as it is.")] = None,
        patients: Annotated[int, typer.Option(
            "--patients", min=1, max=5000, help="How many past patients to make up.")] = (
            DEFAULT_PATIENTS),
        api_port: Annotated[int, typer.Option(help="Port of the UI and JSON API.")] = (
            DEFAULT_API_PORT),
        peer_port: Annotated[int, typer.Option(help="Port peers sync with.")] = (
            DEFAULT_PEER_PORT),
        host: Annotated[str, typer.Option(help="Address of the UI and JSON API.")] = (
            DEFAULT_HOST),
    ) -> None:
        """Start a node with a made-up clinic: patients, today's queue, stock, a PIN per role."""
        target = data_dir or Path(tempfile.mkdtemp(prefix="clinicmesh-demo-"))
        if identity.is_initialised(target) and not is_demo(target):
            typer.echo(f"meshd: {target} holds a real device's data: give the demo an empty "
                       "--data-dir", err=True)
            raise typer.Exit(code=1)
        if not identity.is_initialised(target):
            typer.echo(f"Seeding a demo clinic in {target} …", err=True)
            try:
                clinic = asyncio.run(seed_clinic(target, patients=patients))
            except ClinicMeshError as exc:
                typer.echo(f"meshd: {exc.message}", err=True)
                raise typer.Exit(code=1) from None
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            typer.echo(banner(clinic, f"http://{shown}:{api_port}/"))
        else:
            typer.echo(f"Starting the demo clinic already in {target} (its PINs were printed "
                       "when it was made).", err=True)
        run_node(data_dir=target, api_port=api_port, peer_port=peer_port, host=host, peer=None,
                 relay=None, no_mdns=True, passphrase_file=None)
