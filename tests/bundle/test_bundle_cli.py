"""`meshd bundle export|import` as typer verbs, and bundles for a named destination."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from bundle_mesh import TODAY, bundle_of, charts_on, make_mesh, stored_heads
from typer.testing import CliRunner

from meshd.bundle import commands
from meshd.bundle.exporting import MARK_MARGIN_MS, read_marks


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """meshd, for the test."""

    commands.register(app)
    return app


def test_the_bundle_verbs_carry_charts_and_explain_a_refusal(tmp_path: Path) -> None:
    a, b = make_mesh(tmp_path, 2)
    docs = charts_on(a, 3)
    runner, app = CliRunner(), _app()
    out = tmp_path / "usb.cmb"

    made = runner.invoke(app, ["bundle", "export", "--data-dir", str(a.path), "--since", TODAY,
                               str(out)])
    assert made.exit_code == 0, made.output
    done = runner.invoke(app, ["bundle", "import", "--data-dir", str(b.path), str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout.splitlines()[-1])["changed"] >= len(docs)
    assert all(doc_id in stored_heads(b) for doc_id in docs)

    out.write_bytes(out.read_bytes()[:-10])
    cut = runner.invoke(app, ["bundle", "import", "--data-dir", str(b.path), str(out)])
    assert cut.exit_code == 1 and "cut short" in cut.stderr
    bad_day = runner.invoke(app, ["bundle", "export", "--data-dir", str(a.path), "--since",
                                  "2026-13-01", str(out)])
    assert bad_day.exit_code == 1 and "since" in bad_day.stderr


def test_a_named_destination_gets_everything_first_then_what_changed_since(
    tmp_path: Path,
) -> None:
    a, _ = make_mesh(tmp_path, 2)
    charts_on(a, 3)

    first = bundle_of(a, tmp_path / "one.cmb", to="district")
    mark = read_marks(a.path)["district"]
    second = bundle_of(a, tmp_path / "two.cmb", to="district")

    assert first["since_ms"] == 0 and first["documents"] >= 3
    assert second["since_ms"] == mark - MARK_MARGIN_MS
    assert read_marks(a.path)["district"] >= mark
    assert bundle_of(a, tmp_path / "three.cmb", since="2999-01-01")["documents"] == 0
