"""The relay-tier verbs of `meshd relay` (registered by meshd.relay.commands): `add-downstream`
and `revoke-downstream` on the upstream (national) relay, `upstream` on the downstream
(district) relay (meshd.relay.tiers).

Each verb calls relay library code once and prints; its docstring is its --help.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crdt_model.errors import ClinicMeshError
from meshd.relay import credential as cred

RelayDirOption = Annotated[Path, typer.Option("--data-dir", help="The relay's data dir.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"meshd: {message}", err=True)
    return typer.Exit(code=1)


def register(relay_app: typer.Typer) -> None:
    """Add the tier verbs to `meshd relay`."""

    @relay_app.command("add-downstream")
    def add_downstream(
        name: Annotated[str, typer.Argument(help="The downstream relay's name (a district).")],
        out: Annotated[Path, typer.Option("--out", help="Where to write its tier credential.")],
        data_dir: RelayDirOption,
        url: Annotated[str | None, typer.Option(
            help="This relay's https://HOST:PORT (default: where it last listened).")] = None,
    ) -> None:
        """Register a downstream relay (district) and write its tier credential: every clinic
        it serves then also lives here, kept in sync both ways."""
        from meshd.relay.pg_registry import open_registry
        from meshd.relay.registry import relay_identity
        from meshd.relay.tiers import TierRecords

        me = relay_identity(data_dir)
        url = url or me.url
        if url is None:
            raise _fail("the relay has not run yet: give --url https://HOST:PORT")
        try:
            found = TierRecords(open_registry(data_dir)).add(name)
            cred.write_file(cred.Credential(found.id, found.name, url, found.secret,
                                            me.public_key.hex(), me.cert_pem), out)
        except ClinicMeshError as exc:
            raise _fail(exc.message) from None
        typer.echo(json.dumps({"downstream": found.name, "id": found.id, "out": str(out)}))

    @relay_app.command("revoke-downstream")
    def revoke_downstream(
        name: Annotated[str, typer.Argument(help="The downstream relay's name.")],
        data_dir: RelayDirOption,
    ) -> None:
        """Revoke a downstream relay's tier credential: it and its clinics get nothing here."""
        from meshd.relay.pg_registry import open_registry
        from meshd.relay.tiers import TierRecords

        try:
            TierRecords(open_registry(data_dir)).revoke(name)
        except ClinicMeshError as exc:
            raise _fail(exc.message) from None
        typer.echo(f"Revoked the tier credential of {name}.")

    @relay_app.command("upstream")
    def upstream(
        credential_file: Annotated[Path, typer.Argument(
            help="The tier credential from the upstream relay (add-downstream).")],
        data_dir: RelayDirOption,
        insecure_ca: Annotated[Path | None, typer.Option(
            "--insecure-ca", help="Trust this certificate (or CA) for the upstream's TLS.")
        ] = None,
    ) -> None:
        """Link this relay to an upstream relay: each clinic it serves syncs there too (the
        running relay takes it up within seconds)."""
        from meshd.relay.tiers import UPSTREAM_FILE

        try:
            found = cred.read_file(credential_file)
            if insecure_ca is not None:
                found = found.with_ca(insecure_ca.read_text(encoding="utf-8"))
            data_dir.mkdir(parents=True, exist_ok=True)
            cred.write_file(found, data_dir / UPSTREAM_FILE)
        except ClinicMeshError as exc:
            raise _fail(exc.message) from None
        except OSError as exc:
            raise _fail(str(exc)) from None
        typer.echo(f"Linked to the upstream relay {found.url} as {found.clinic}.")
