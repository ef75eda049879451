"""``reconciler keys create|list|revoke`` and ``reconciler schema export``.

Keys: the plain key is printed once, at creation; only its hash is stored.
Schema: writes the SDL the code defines to graphql/schema.graphql (``--check``: exit 1 if the
file differs, for CI).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from reconciler.errors import ReconcilerError
from reconciler.service import keys as key_service
from reconciler.service.errors import ServiceError
from reconciler.settings import load_settings
from reconciler.store.db import Store
from reconciler.store.migrate import PROJECT_ROOT, upgrade
from reconciler.store.schema import ApiKeyRole

SCHEMA_FILE = PROJECT_ROOT / "graphql" / "schema.graphql"
T = TypeVar("T")

keys_app = typer.Typer(help="API keys (viewer, operator, admin).", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema contract.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(schema_app, name="schema")


def _with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = load_settings()
        await upgrade(settings.database_url)
        store = Store.from_settings(settings)
        try:
            return await work(store)
        finally:
            await store.dispose()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except ReconcilerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="viewer, operator or admin")],
    name: Annotated[str, typer.Option(help="Who or what the key is for")] = "api",
) -> None:
    """Create a key and print it (the only time it is shown)."""
    parsed = _parse_role(role)
    row, plain = _with_store(lambda store: key_service.create_key(store, name=name, role=parsed))
    typer.echo(f"created key {row.id} ({row.role}, {row.name}); keep it now, it is not stored:")
    typer.echo(plain)


@keys_app.command("list")
def list_keys(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys")] = False,
) -> None:
    rows = _with_store(lambda store: key_service.list_keys(store, include_revoked=all_keys))
    for row in rows:
        state = "revoked" if row.revoked_at else "active"
        used = row.last_used_at.isoformat() if row.last_used_at else "never"
        typer.echo(f"{row.id}  {row.role:<8}  {state:<7}  last used {used}  {row.name}")


@keys_app.command("revoke")
def revoke(key_id: str) -> None:
    if not _with_store(lambda store: key_service.revoke_key(store, key_id)):
        typer.echo("error: no such active key", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@schema_app.command("export")
def export(
    path: Annotated[Path, typer.Option(help="Where to write the SDL")] = SCHEMA_FILE,
    check: Annotated[bool, typer.Option(help="Only compare; exit 1 if it differs")] = False,
) -> None:
    from reconciler.api.schema import schema_sdl  # the schema is heavy: only when asked

    sdl = schema_sdl()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != sdl:
            typer.echo(f"{path} is out of date: run `reconciler schema export`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{path} is up to date")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sdl, encoding="utf-8")
    typer.echo(f"wrote {path}")


def _parse_role(value: str) -> ApiKeyRole:
    try:
        return key_service.parse_role(value)
    except ServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
