"""The `meshd` command: one function per verb, each docstring is its --help (STYLE 11).

Verbs call library code once and print; they hold no logic of their own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from crdt_model.errors import ClinicMeshError
from meshd import identity
from meshd.node import (
    DEFAULT_API_PORT,
    DEFAULT_HOST,
    DEFAULT_PEER_PORT,
    Node,
    NodeOptions,
    running_node,
)
from meshd.status import store_summary

DEFAULT_DATA_DIR = identity.default_data_dir()

app = typer.Typer(add_completion=False, no_args_is_help=True, help="A clinicmesh device node.")

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", help="Where this device keeps its keys and encrypted store."),
]
PassphraseOption = Annotated[
    Path | None,
    typer.Option("--passphrase-file", help="A file holding the store passphrase."),
]


def _passphrase(path: Path | None) -> str | None:
    if path is None:
        return None
    return path.read_text(encoding="utf-8").rstrip("\r\n")


def _fail(exc: ClinicMeshError) -> typer.Exit:
    typer.echo(f"meshd: {exc.message}", err=True)
    return typer.Exit(code=1)


@app.command()
def init(
    name: Annotated[str, typer.Option("--name", help="This device's name.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    facility: Annotated[str, typer.Option("--facility", help="The facility's name.")] = (
        identity.DEFAULT_FACILITY_NAME
    ),
    passphrase_file: PassphraseOption = None,
) -> None:
    """Create a new device, mesh and facility in an empty data dir."""
    try:
        made = identity.init_data_dir(
            data_dir, device_name=name, facility_name=facility,
            passphrase=_passphrase(passphrase_file),
        )
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps({"device": made.identity.device_id, "data_dir": str(data_dir)}))


@app.command()
def run(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    api_port: Annotated[int, typer.Option(help="Port of the UI and JSON API.")] = DEFAULT_API_PORT,
    peer_port: Annotated[int, typer.Option(help="Port peers sync with.")] = DEFAULT_PEER_PORT,
    host: Annotated[str, typer.Option(help="Address of the UI and JSON API.")] = DEFAULT_HOST,
    peer: Annotated[
        list[str] | None, typer.Option("--peer", help="A peer HOST:PORT (repeatable).")
    ] = None,
    relay: Annotated[str | None, typer.Option(help="URL of the central relay.")] = None,
    no_mdns: Annotated[bool, typer.Option("--no-mdns", help="Do not use mDNS.")] = False,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Run this device's node (initialising an empty data dir on first run) until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    passphrase = _passphrase(passphrase_file)
    try:
        if not identity.is_initialised(data_dir):
            identity.init_data_dir(
                data_dir, device_name=identity.default_device_name(), passphrase=passphrase
            )
        options = NodeOptions(
            data_dir=data_dir, host=host, api_port=api_port, peer_port=peer_port,
            peers=tuple(peer or ()), relay=relay, mdns=not no_mdns, passphrase=passphrase,
        )
        asyncio.run(Node(options).run_until_signalled())
    except ClinicMeshError as exc:
        raise _fail(exc) from None


@app.command()
def status(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Show this device, its mesh and facility, the store's contents and whether it runs."""
    try:
        data = identity.load_data_dir(data_dir)
        store = asyncio.run(store_summary(data, _passphrase(passphrase_file)))
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    report: dict[str, Any] = {
        "device": {"id": data.identity.device_id, "name": data.identity.device_name},
        "mesh": data.identity.mesh_id,
        "facility": {"id": data.identity.facility_id, "name": data.identity.facility_name},
        "data_dir": str(data_dir),
        **store,
        "running": running_node(data_dir),
    }
    if as_json:
        typer.echo(json.dumps(report))
        return
    for key, value in report.items():
        typer.echo(f"{key}: {json.dumps(value)}")
