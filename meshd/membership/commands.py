"""The membership verbs of `meshd`: pair, join, devices, revoke (registered by meshd.cli).

Each verb calls membership library code once and prints; its docstring is its --help.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from crdt_model.errors import ClinicMeshError
from discovery.qr import pairing_uri, print_qr, save_qr
from meshd import identity
from meshd.membership import client
from meshd.membership.joining import (
    FIND_INVITER_TIMEOUT_S,
    devices_offering_codes,
    invitation,
    join_mesh,
)
from meshd.membership.mdns_link import short_device_id
from meshd.node import DEFAULT_API_PORT, DEFAULT_HOST, DEFAULT_PEER_PORT

RUN_NODE = Callable[..., None]
DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", help="Where this device keeps its keys and encrypted store."),
]
PassphraseOption = Annotated[
    Path | None, typer.Option("--passphrase-file", help="A file holding the store passphrase.")
]
WAIT_MARGIN_S = 5.0
DEFAULT_DATA_DIR = identity.default_data_dir()


def _passphrase(path: Path | None) -> str | None:
    return None if path is None else path.read_text(encoding="utf-8").rstrip("\r\n")


def _fail(exc: ClinicMeshError) -> typer.Exit:
    typer.echo(f"meshd: {exc.message}", err=True)
    return typer.Exit(code=1)


def register(app: typer.Typer, run_node: RUN_NODE) -> None:
    """Add the membership verbs to the `meshd` app; `join --run` starts the node with run_node."""

    @app.command()
    def pair(
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        qr_out: Annotated[
            Path | None, typer.Option("--qr-out", help="Also save the QR code (.png or .svg).")
        ] = None,
        no_qr: Annotated[bool, typer.Option("--no-qr", help="Print no QR code.")] = False,
    ) -> None:
        """Show a 6-digit code (and QR) that lets a new device join this mesh, and wait for it.

        The node must be running on this data dir. The code works once, for 5 minutes, and
        closes after three wrong tries.
        """
        try:
            opened, host = client.open_pairing(data_dir)
            code, port = str(opened["code"]), int(opened["peer_port"])
            uri = pairing_uri(code, host, port)
            typer.echo(f"Pairing code: {code}")
            me = identity.read_identity(data_dir)
            typer.echo(f"New devices see this one as {short_device_id(me.device_id)} "
                       "(meshd join --list)")
            typer.echo(f"On the new device: meshd join --data-dir DIR --code {code}"
                       + ("" if opened.get("mdns") else f" --peer {host}:{port}"))
            if qr_out is not None:
                typer.echo(f"QR code saved to {save_qr(uri, qr_out)}")
            if not no_qr:
                print_qr(uri)
            typer.echo(f"Waiting for the new device ({opened['expires_in_s']:.0f} s)...")
            try:
                state = client.wait_for_pairing(
                    data_dir, float(opened["expires_in_s"]) + WAIT_MARGIN_S
                )
            except KeyboardInterrupt:
                client.close_pairing(data_dir)
                typer.echo("Pairing cancelled.")
                raise typer.Exit(code=130) from None
        except (ClinicMeshError, ValueError) as exc:
            if isinstance(exc, ValueError):  # a --qr-out suffix that is not .png or .svg
                typer.echo(f"meshd: {exc}", err=True)
                raise typer.Exit(code=1) from None
            raise _fail(exc) from None
        joined = state.get("joined")
        if state.get("state") == "paired" and isinstance(joined, dict):
            typer.echo(f"Paired: {joined['name']} ({joined['id']}) is now on the roster.")
            return
        reasons = {"expired": "the code expired", "exhausted": "three wrong codes were tried",
                   "closed": "the code was cancelled"}
        typer.echo(f"Not paired: {reasons.get(str(state.get('state')), state.get('state'))}.",
                   err=True)
        raise typer.Exit(code=1)

    @app.command()
    def join(
        code: Annotated[
            str | None, typer.Option("--code", help="The 6 digits the other device shows.")
        ] = None,
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        uri: Annotated[
            str | None, typer.Option("--uri", help="The clinicmesh://pair?... text of its QR.")
        ] = None,
        peer: Annotated[
            list[str] | None, typer.Option(
                "--peer", help="An inviting device's HOST:PORT (no mDNS; repeatable).")
        ] = None,
        device: Annotated[
            str | None, typer.Option(
                "--device", help="Only the device with this id (from --list), over mDNS.")
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="This device's name.")] = None,
        find_timeout_s: Annotated[
            float, typer.Option(help="How long to look for the inviting device over mDNS.")
        ] = FIND_INVITER_TIMEOUT_S,
        run: Annotated[bool, typer.Option("--run", help="Start the node once joined.")] = False,
        api_port: Annotated[int, typer.Option(help="With --run: the API port.")] = (
            DEFAULT_API_PORT
        ),
        peer_port: Annotated[int, typer.Option(help="With --run: the peer port.")] = (
            DEFAULT_PEER_PORT
        ),
        host: Annotated[str, typer.Option(help="With --run: the API address.")] = DEFAULT_HOST,
        no_mdns: Annotated[bool, typer.Option("--no-mdns", help="With --run: no mDNS.")] = False,
        passphrase_file: PassphraseOption = None,
        list_offers: Annotated[bool, typer.Option(
            "--list", help="Only list the devices nearby that show a code (over mDNS).")] = False,
    ) -> None:
        """Join a clinic's mesh as a new device with the code another device shows.

        The code is tried on every device that shows one (or each --peer) until one accepts.
        """
        if list_offers:
            typer.echo(json.dumps({"devices": devices_offering_codes()}))
            return
        try:
            code, peers = invitation(code, peer, uri)
            joined = join_mesh(
                data_dir, code, peers=peers, device=device, device_name=name,
                passphrase=_passphrase(passphrase_file), find_timeout_s=find_timeout_s,
            )
        except ClinicMeshError as exc:
            raise _fail(exc) from None
        me = joined.data.identity
        typer.echo(json.dumps({
            "device": me.device_id, "name": me.device_name, "mesh": me.mesh_id,
            "facility": me.facility_name, "inviter": joined.inviter, "data_dir": str(data_dir),
        }))
        if run:
            run_node(data_dir=data_dir, api_port=api_port, peer_port=peer_port, host=host,
                     peer=None, relay=None, no_mdns=no_mdns, passphrase_file=passphrase_file)

    @app.command()
    def devices(
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        passphrase_file: PassphraseOption = None,
    ) -> None:
        """List the devices of this mesh: name, id, key fingerprint, who added them, revoked."""
        try:
            roster = client.list_devices(data_dir, _passphrase(passphrase_file))
        except ClinicMeshError as exc:
            raise _fail(exc) from None
        if as_json:
            typer.echo(json.dumps(roster))
            return
        typer.echo(_table(roster["devices"]))
        typer.echo(f"mesh key epoch: {roster['key_epoch']}")

    @app.command()
    def revoke(
        device: Annotated[str, typer.Argument(help="The device's name or id (or id prefix).")],
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        passphrase_file: PassphraseOption = None,
    ) -> None:
        """Revoke a lost or retired device and rotate the mesh key for the remaining ones."""
        try:
            done = client.revoke_device(data_dir, device, _passphrase(passphrase_file))
        except ClinicMeshError as exc:
            raise _fail(exc) from None
        typer.echo(json.dumps(done))

    @app.command("admin-device")
    def admin_device(
        device: Annotated[str, typer.Argument(help="The device's name or id (or id prefix).")],
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        passphrase_file: PassphraseOption = None,
    ) -> None:
        """Let a device manage users, devices and settings (run it on an admin device)."""
        try:
            done = client.make_admin_device(data_dir, device, _passphrase(passphrase_file))
        except ClinicMeshError as exc:
            raise _fail(exc) from None
        typer.echo(json.dumps(done))


def _table(rows: list[dict[str, Any]]) -> str:
    header = ("NAME", "ID", "FINGERPRINT", "ADDED BY", "ADDED", "STATUS")
    lines = [header]
    for row in rows:
        status = "revoked" if row["revoked"] else (
            "this device" if row["this_device"] else row.get("invite") or "ok")
        status += ", admin" if row.get("admin") else ""
        lines.append((str(row["name"]), str(row["id"]), str(row["fingerprint"]),
                      str(row["added_by"] or "-"), str(row["added_at"] or "-"), status))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                     .rstrip() for line in lines)
