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
from meshd import demo, identity, provision
from meshd.backup import backup, last_backup, restore
from meshd.bundle.commands import register as register_bundle
from meshd.membership.commands import register as register_membership
from meshd.node import (
    DEFAULT_API_PORT,
    DEFAULT_HOST,
    DEFAULT_PEER_PORT,
    Node,
    NodeOptions,
    running_node,
)
from meshd.node_client import NodeRefused, node_api
from meshd.relay.commands import register as register_relay
from meshd.secret_files import NO_PASSPHRASE_WARNING
from meshd.status import store_summary
from meshd.store import keys
from meshd.sync.node_sync import STATUS_PATH as SYNC_STATUS_PATH
from meshd.sync.peering import DEFAULT_MAX_SESSIONS
from meshd.ui_service import mount_ui

DEFAULT_DATA_DIR = identity.default_data_dir()
STATUS_TIMEOUT_S = 5.0

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


def warn_without_passphrase(data_dir: Path) -> None:
    """Say plainly, on stderr, that a copy of this data dir opens its records (no passphrase)."""
    if not keys.has_passphrase(data_dir):
        typer.echo(f"meshd: warning: {NO_PASSPHRASE_WARNING}", err=True)


@app.command()
def init(
    name: Annotated[
        str | None, typer.Option("--name", help="This device's name (required without --invite).")
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    facility: Annotated[str, typer.Option("--facility", help="The facility's name.")] = (
        identity.DEFAULT_FACILITY_NAME
    ),
    invite_file: Annotated[
        Path | None,
        typer.Option("--invite", help="Join the mesh of this invite file (from `meshd invite`)."),
    ] = None,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Create a new device, mesh and facility in an empty data dir, or join a mesh by invite."""
    try:
        if invite_file is not None:
            made = provision.join_by_invite(
                data_dir, invite_file, device_name=name, passphrase=_passphrase(passphrase_file)
            )
        elif name is None:
            raise identity.DataDirError("give this device a --name (or join by --invite FILE)")
        else:
            made = identity.init_data_dir(
                data_dir, device_name=name, facility_name=facility,
                passphrase=_passphrase(passphrase_file),
            )
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    warn_without_passphrase(data_dir)
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
    hint: Annotated[list[str] | None, typer.Option("--hint", help="A HOST:PORT dialed only "
                    "if chosen, as if found over mDNS (repeatable).")] = None,
    relay: Annotated[str | None, typer.Option(help="URL of the central relay.")] = None,
    no_mdns: Annotated[bool, typer.Option("--no-mdns", help="Do not use mDNS.")] = False,
    max_peers: Annotated[int, typer.Option(
        help="Most peer sessions kept at once, in a mesh of more devices.")] = DEFAULT_MAX_SESSIONS,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Run this device's node (initialising an empty data dir on first run) until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # zeroconf warns with a traceback for each interface it can't send on (e.g. IPv6 loopback
    # with no route); discovery goes on over the others, so only its errors reach the log.
    logging.getLogger("zeroconf").setLevel(logging.ERROR)
    passphrase = _passphrase(passphrase_file)
    try:
        if not identity.is_initialised(data_dir):
            identity.init_data_dir(
                data_dir, device_name=identity.default_device_name(), passphrase=passphrase
            )
        warn_without_passphrase(data_dir)
        # Peers from node.json (an invite's) are dialed too; duplicates once.
        peers = tuple(dict.fromkeys([*identity.configured_peers(data_dir), *(peer or ())]))
        options = NodeOptions(
            data_dir=data_dir, host=host, api_port=api_port, peer_port=peer_port,
            peers=peers, hints=tuple(hint or ()), relay=relay, mdns=not no_mdns,
            passphrase=passphrase,
            max_peers=max(1, max_peers), extensions=(provision.add_invite_route, mount_ui),
        )
        asyncio.run(Node(options).run_until_signalled())
    except ClinicMeshError as exc:
        raise _fail(exc) from None


def _live_sync(data_dir: Path) -> dict[str, Any] | None:
    """The running node's sync status (peers, pending, last changes), None when it isn't up."""
    api = node_api(data_dir)
    if api is None:
        return None
    try:
        return api.call("GET", SYNC_STATUS_PATH, timeout_s=STATUS_TIMEOUT_S)
    except NodeRefused as exc:
        return {"error": exc.code, "message": exc.message}


@app.command()
def status(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    passphrase_file: PassphraseOption = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Also check the store's integrity (every page and document).")] = False,
) -> None:
    """Show this device, its mesh and facility, the store's contents and whether it runs."""
    try:
        me = identity.read_identity(data_dir)
        store = asyncio.run(store_summary(data_dir, _passphrase(passphrase_file), check=check))
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    report: dict[str, Any] = {
        "device": {"id": me.device_id, "name": me.device_name},
        "mesh": me.mesh_id,
        "facility": {"id": me.facility_id, "name": me.facility_name},
        "data_dir": str(data_dir),
        **store,
        "running": running_node(data_dir),
        "sync": _live_sync(data_dir),
        "last_backup": last_backup(data_dir),
    }
    # What peers sent that was refused, and which device sent it (an admin may revoke it).
    report["quarantine"] = (report["sync"] or {}).pop("quarantine", [])
    if as_json:
        typer.echo(json.dumps(report))
        return
    for key, value in report.items():
        typer.echo(f"{key}: {json.dumps(value)}")


@app.command()
def invite(
    out: Annotated[Path, typer.Option("--out", help="Where to write the invite file (secret).")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    name: Annotated[
        str | None, typer.Option("--name", help="The new device's name on the roster.")
    ] = None,
    peer: Annotated[
        list[str] | None,
        typer.Option("--peer", help="A HOST:PORT the new device dials first (repeatable)."),
    ] = None,
    expires_hours: Annotated[
        float, typer.Option("--expires-hours", help="Hours until the invite can't be used.")
    ] = provision.DEFAULT_INVITE_LIFETIME_S / 3600,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Roster a new device and write its invite file, for `meshd init --invite FILE` on it."""
    try:
        made = provision.invite_device(
            data_dir, out, device_name=name, peers=peer or (), lifetime_s=expires_hours * 3600,
            passphrase=_passphrase(passphrase_file),
        )
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps({
        "invite": str(out), "device": made.device_id, "name": made.device_name,
        "mesh": made.mesh_id, "peers": list(made.peers),
        "expires_at": made.expires_at.isoformat(timespec="seconds"),
    }))


@app.command()
def export(
    export_format: Annotated[
        str, typer.Option("--format", help="fhir, dhis2, dhis2-csv or csv (line lists).")],
    out: Annotated[Path, typer.Option(
        "--out", help="The file to write (csv: a folder, or a .zip of the four lists).")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    since: Annotated[str | None, typer.Option(
        "--since", help="fhir: charts changed on or after this day; csv: rows from it.")] = None,
    period: Annotated[str | None, typer.Option(
        "--period", help="A DHIS2 period: 2026, 2026Q4, 202611, 2026W45 or 20261105.")] = None,
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", help="The DHIS2 mapping file (see docs/exports.md).")] = None,
    patient: Annotated[str | None, typer.Option(
        "--patient", help="Export only this patient's chart (its UUID).")] = None,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Export charts as a FHIR R4 Bundle, a DHIS2 data value set (JSON or CSV) or CSV lists."""
    from meshd.exports.run import ExportRequest, export_data_dir, stderr_progress  # not in run
    request = ExportRequest(export_format, out, since, period, mapping, patient)
    progress = stderr_progress(lambda line: typer.echo(line, err=True))
    try:
        summary = asyncio.run(
            export_data_dir(data_dir, request, _passphrase(passphrase_file), progress))
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(summary))


# pair, join, devices, revoke: meshd.membership.commands (join --run starts `run`).
BackupPassphraseOption = Annotated[Path, typer.Option(
    "--backup-passphrase-file", help="A file holding the passphrase the backup is sealed with.")]


@app.command("backup")
def backup_command(
    out: Annotated[Path, typer.Argument(help="The backup file to write (e.g. on a USB stick).")],
    backup_passphrase_file: BackupPassphraseOption,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Write an encrypted backup of this device (safe while the node runs)."""
    try:
        summary = backup(data_dir, out, _secret(backup_passphrase_file),
                         _passphrase(passphrase_file), progress=_show_pages)
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(summary))


@app.command("restore")
def restore_command(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `meshd backup`.")],
    data_dir: DataDirOption,
    backup_passphrase_file: BackupPassphraseOption,
    passphrase_file: PassphraseOption = None,
) -> None:
    """Restore a backup into a new data dir (a replacement for a lost or broken device)."""
    try:
        summary = restore(backup_file, data_dir, _secret(backup_passphrase_file),
                          _passphrase(passphrase_file))
    except ClinicMeshError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(summary))


def _show_pages(copied: int, total: int) -> None:
    typer.echo(f"meshd: backup: {copied} of {total} store pages copied", err=True)


def _secret(path: Path) -> str:
    secret = _passphrase(path)
    assert secret is not None  # the option is required
    return secret


register_membership(app, run)
register_bundle(app)  # bundle export|import: meshd.bundle.commands
register_relay(app)  # relay, relay-link: meshd.relay.commands
demo.register(app)  # demo: meshd.demo (after run, which it calls)
