"""The relay verbs of `meshd` (registered by meshd.cli): `relay` (run, add-clinic,
revoke-clinic, status; the tier verbs of meshd.relay.tier_commands) on the relay's machine,
`relay-link` on a clinic's device.

Each verb calls relay library code once and prints; its docstring is its --help.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from crdt_model.errors import ClinicMeshError
from meshd import identity
from meshd.node_client import NodeRefused, node_api
from meshd.relay import credential as cred
from meshd.relay import tier_commands
from meshd.relay.local import link_stopped_node

# The relay's server, registry and PostgreSQL code (psycopg alone is ~10 MB resident) are
# imported by the verbs that use them, so a device's `meshd run` never loads them.

DEFAULT_DATA_DIR = identity.default_data_dir()
RelayDirOption = Annotated[Path, typer.Option("--data-dir", help="The relay's data dir.")]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Where this device keeps its keys and encrypted store.")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"meshd: {message}", err=True)
    return typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add `relay ...` and `relay-link` to the `meshd` app."""
    relay_app = typer.Typer(help="The central relay.", no_args_is_help=False)
    app.add_typer(relay_app, name="relay")
    tier_commands.register(relay_app)

    @relay_app.callback(invoke_without_command=True)
    def relay(
        ctx: typer.Context,
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="The relay's data dir.")
                            ] = None,
        listen: Annotated[str, typer.Option(help="HOST:PORT to listen on (TLS).")] = (
            "0.0.0.0:7443"),
        cert: Annotated[Path | None, typer.Option(help="The TLS certificate (PEM).")] = None,
        key: Annotated[Path | None, typer.Option(help="The TLS private key (PEM).")] = None,
        db: Annotated[str | None, typer.Option(
            help="postgresql://… : clinics' stores and the registry in PostgreSQL, shared by"
                 " every relay process given the same URL and a copy of the data dir's keys"
                 " (remembered in the data dir for the other verbs).")] = None,
    ) -> None:
        """Run the central relay: every clinic's charts, over TLS, one store per clinic."""
        if ctx.invoked_subcommand is not None:
            return
        from meshd.relay.pg import is_postgres
        from meshd.relay.server import RelayOptions, run_relay

        if data_dir is None or cert is None or key is None:
            raise _fail("meshd relay needs --data-dir, --cert and --key")
        if db is not None and not is_postgres(db):
            raise _fail("--db takes a postgresql://… URL (leave it out for SQLite)")
        host, _, port = listen.rpartition(":")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        options = RelayOptions(data_dir, host or "0.0.0.0", int(port), cert, key, db=db)
        asyncio.run(run_relay(options))

    @relay_app.command("add-clinic")
    def add_clinic(
        name: Annotated[str, typer.Argument(help="The clinic's name.")],
        out: Annotated[Path, typer.Option("--out", help="Where to write its credential.")],
        data_dir: RelayDirOption,
        url: Annotated[str | None, typer.Option(
            help="The relay's https://HOST:PORT (default: where it last listened).")] = None,
        ca: Annotated[Path | None, typer.Option(
            "--ca", help="The certificate clinics trust (default: the relay's own).")] = None,
    ) -> None:
        """Register a clinic and write its credential file (give it to the clinic's admin)."""
        from meshd.relay.pg_registry import open_registry
        from meshd.relay.registry import relay_identity

        me = relay_identity(data_dir)
        url = url or me.url
        if url is None:
            raise _fail("the relay has not run yet: give --url https://HOST:PORT")
        try:
            clinic = open_registry(data_dir).add_clinic(name)
            found = cred.Credential(clinic.id, clinic.name, url, clinic.secret,
                                    me.public_key.hex(),
                                    ca.read_text(encoding="utf-8") if ca else me.cert_pem)
            cred.write_file(found, out)
        except ClinicMeshError as exc:
            raise _fail(exc.message) from None
        typer.echo(json.dumps({"clinic": clinic.name, "id": clinic.id, "out": str(out)}))

    @relay_app.command("add-service")
    def add_service(
        name: Annotated[str, typer.Argument(help="The service's name (e.g. a district lab).")],
        clinic: Annotated[str, typer.Option("--clinic", help="The clinic it writes to.")],
        out: Annotated[Path, typer.Option("--out", help="Where to write its credential.")],
        data_dir: RelayDirOption,
    ) -> None:
        """Register an ancillary service that posts lab results to a clinic's charts."""
        from meshd.relay.pg_registry import open_registry
        from meshd.relay.registry import relay_identity

        me = relay_identity(data_dir)
        if me.url is None:
            raise _fail("the relay has not run yet")
        try:
            service = open_registry(data_dir).add_service(name, clinic)
            cred.write_file(cred.Credential(service.id, service.name, me.url, service.secret,
                                            me.public_key.hex(), me.cert_pem), out)
        except ClinicMeshError as exc:
            raise _fail(exc.message) from None
        typer.echo(json.dumps({"service": service.name, "id": service.id, "out": str(out)}))

    @relay_app.command("revoke-service")
    def revoke_service(
        name: Annotated[str, typer.Argument(help="The service's name.")],
        clinic: Annotated[str, typer.Option("--clinic", help="The clinic it writes to.")],
        data_dir: RelayDirOption,
    ) -> None:
        """Revoke an ancillary service's credential."""
        from meshd.relay.pg_registry import open_registry

        try:
            open_registry(data_dir).revoke_service(name, clinic)
        except ClinicMeshError as exc:
            raise _fail(exc.message) from None
        typer.echo(f"Revoked the credential of {name} for {clinic}.")

    @relay_app.command("revoke-clinic")
    def revoke_clinic(
        name: Annotated[str, typer.Argument(help="The clinic's name.")],
        data_dir: RelayDirOption,
    ) -> None:
        """Revoke a clinic's credential: it gets nothing from the relay from now on."""
        from meshd.relay.pg_registry import open_registry

        try:
            open_registry(data_dir).revoke(name)
        except ClinicMeshError as exc:
            raise _fail(exc.message) from None
        typer.echo(f"Revoked the credential of {name}.")

    @relay_app.command("status")
    def status(
        data_dir: RelayDirOption,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """The clinics the relay serves: last contact, charts, errors; the latest audit; the
        upstream link and the downstream relays (tiers)."""
        from meshd.relay.pg_registry import open_registry
        from meshd.relay.registry import relay_identity
        from meshd.relay.tiers import tier_status

        registry = open_registry(data_dir)
        me = relay_identity(data_dir)
        clinics = [c.as_status() for c in registry.clinics()]
        tiers = tier_status(registry)
        if as_json:
            typer.echo(json.dumps({"url": me.url, "relay_key": me.public_key.hex(),
                                   "clinics": clinics, "audit": registry.audit_rows(50),
                                   **tiers}))
            return
        if tiers["upstream"] is not None:
            up = tiers["upstream"]
            typer.echo(f"upstream {up['url']}: {up['state']}, last contact "
                       f"{up['last_contact_ms']}, backlog {up['backlog']}")
        for down in tiers["downstreams"]:
            typer.echo(f"downstream {down['name']}: {len(down['clinics'])} clinics"
                       + (" (revoked)" if down["revoked"] else ""))
        for clinic in clinics:
            typer.echo(f"{clinic['name']}: charts {clinic['charts']}, errors {clinic['errors']}"
                       f", last contact {clinic['last_contact_ms']}"
                       + (" (revoked)" if clinic["revoked"] else ""))

    @app.command("relay-link")
    def relay_link(
        credential_file: Annotated[Path, typer.Argument(help="The credential from the relay.")],
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        insecure_ca: Annotated[Path | None, typer.Option(
            "--insecure-ca", help="Trust this certificate (or CA) for the relay's TLS.")] = None,
    ) -> None:
        """Link this clinic to the central relay: every device of the mesh uses the credential."""
        try:
            found = cred.read_file(credential_file)
            if insecure_ca is not None:
                found = found.with_ca(insecure_ca.read_text(encoding="utf-8"))
            api = node_api(data_dir)
            if api is not None:
                api.call("POST", "/api/v1/relay/link", {"credential": json.loads(found.to_json())})
            else:
                asyncio.run(link_stopped_node(data_dir, found))
        except (ClinicMeshError, NodeRefused) as exc:
            raise _fail(exc.message) from None
        except OSError as exc:
            raise _fail(str(exc)) from None
        typer.echo(f"Linked to the relay {found.url} as {found.clinic}.")
