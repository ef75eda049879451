"""``reconciler db ...`` on a SQLite file named by the settings."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from reconciler.store.cli import register
from reconciler.store.migrate import head_revision


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """A stand-in for the ``reconciler`` command."""

    return app


def test_upgrade_current_and_downgrade(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"RECONCILER_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'r.db'}"}
    result = runner.invoke(_app(), ["db", "current"], env=env)
    assert result.exit_code == 0, result.output
    assert "never migrated" in result.output
    result = runner.invoke(_app(), ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"database at {head_revision()}" in result.output
    result = runner.invoke(_app(), ["db", "current"], env=env)
    assert "up to date" in result.output
    result = runner.invoke(_app(), ["db", "downgrade", "base"], env=env)
    assert result.exit_code == 0, result.output
    assert "database at base" in result.output


def test_bad_url_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["db", "upgrade"], env={"RECONCILER_DATABASE_URL": "mysql://nope"}
    )
    assert result.exit_code == 1
    assert "invalid setting RECONCILER_DATABASE_URL" in result.output
