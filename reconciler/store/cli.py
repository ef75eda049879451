"""``reconciler db upgrade|current|downgrade``: the store's migrations from the command line.

The URL comes from the settings (``RECONCILER_DATABASE_URL`` or the config file); the service
upgrades by itself at start-up, this is for operators (deploy steps, rollbacks).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from reconciler.errors import ReconcilerError
from reconciler.settings import load_settings
from reconciler.store import migrate

db_app = typer.Typer(help="The store's schema migrations.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


def _url() -> str:
    try:
        return load_settings().database_url
    except ReconcilerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _run(step: str, url: str, revision: str | None = None) -> None:
    try:
        if step == "upgrade":
            asyncio.run(migrate.upgrade(url, revision or "head"))
        else:
            asyncio.run(migrate.downgrade(url, revision or "base"))
    except ReconcilerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Bring the database up to a revision (default: the latest)."""
    url = _url()
    _run("upgrade", url, revision)
    typer.echo(f"database at {asyncio.run(migrate.current_revision(url))}")


@db_app.command("current")
def current() -> None:
    """Print the database's revision and the latest one."""
    url = _url()
    revision = asyncio.run(migrate.current_revision(url))
    head = migrate.head_revision()
    state = "up to date" if revision == head else f"behind (head is {head})"
    typer.echo(f"database at {revision or 'nothing (never migrated)'}: {state}")


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops every table")],
) -> None:
    """Take the database down to a revision (data in dropped tables is lost)."""
    url = _url()
    _run("downgrade", url, revision)
    typer.echo(f"database at {asyncio.run(migrate.current_revision(url)) or 'base'}")
