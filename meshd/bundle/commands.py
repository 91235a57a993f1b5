"""The `meshd bundle` verbs: export and import (registered by meshd.cli).

Each verb calls bundle library code once and prints one JSON line; its docstring is its --help.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from crdt_model.errors import ClinicMeshError
from meshd import identity
from meshd.bundle.exporting import export_bundle
from meshd.bundle.importing import import_bundle

PROGRESS_EVERY_S = 1.0
DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", help="Where this device keeps its keys and encrypted store."),
]
PassphraseOption = Annotated[
    Path | None, typer.Option("--passphrase-file", help="A file holding the store passphrase.")
]
DEFAULT_DATA_DIR = identity.default_data_dir()


def _passphrase(path: Path | None) -> str | None:
    return None if path is None else path.read_text(encoding="utf-8").rstrip("\r\n")


def _fail(exc: ClinicMeshError) -> typer.Exit:
    typer.echo(f"meshd: {exc.message}", err=True)
    return typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add `meshd bundle export|import` to the `meshd` app."""
    bundle = typer.Typer(no_args_is_help=True, help="USB bundles: carry changes on a stick.")
    app.add_typer(bundle, name="bundle")

    @bundle.command("export")
    def export_verb(
        file: Annotated[Path, typer.Argument(help="The bundle file to write.")],
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        since: Annotated[str | None, typer.Option(
            "--since", help="Documents changed on this device on or after this day "
            "(YYYY-MM-DD).")] = None,
        to: Annotated[str | None, typer.Option(
            "--to", help="A destination's name: without --since, the documents changed since "
            "the last bundle for it.")] = None,
        passphrase_file: PassphraseOption = None,
    ) -> None:
        """Write the documents changed since a day (or the last bundle --to NAME) as a bundle."""
        last = [0.0]

        def report(done: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                typer.echo(f"bundled {done} documents", err=True)

        try:
            summary = asyncio.run(export_bundle(
                data_dir, file, since=since, to=to, passphrase=_passphrase(passphrase_file),
                progress=report,
            ))
        except ClinicMeshError as exc:
            raise _fail(exc) from None
        typer.echo(json.dumps(summary))

    @bundle.command("import")
    def import_verb(
        file: Annotated[Path, typer.Argument(help="The bundle file to merge.")],
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        passphrase_file: PassphraseOption = None,
    ) -> None:
        """Check a bundle of this mesh whole, then merge it (through the node when one runs)."""
        last = [0.0]

        def report(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S or done >= total:
                last[0] = time.monotonic()
                typer.echo(f"merged {done}/{total} documents", err=True)

        try:
            summary = asyncio.run(import_bundle(data_dir, file, _passphrase(passphrase_file),
                                                report))
        except ClinicMeshError as exc:
            raise _fail(exc) from None
        typer.echo(summary.get("message", ""), err=True)
        typer.echo(json.dumps(summary))
