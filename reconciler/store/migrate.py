"""Schema migrations, run by the service at start-up and by the CLI: always Alembic, never
``create_all`` (which cannot evolve a schema that holds data)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, pool
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import command
from reconciler.errors import ConfigError, StoreError
from reconciler.settings import normalise_database_url
from reconciler.store.db import ensure_sqlite_dir

# The migrations live in the repository's top-level alembic/ folder.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
SCRIPT_LOCATION = PROJECT_ROOT / "alembic"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's config for the project's migrations; ``url`` overrides the settings' one."""
    if not SCRIPT_LOCATION.is_dir():
        raise ConfigError("alembic", f"migrations folder {SCRIPT_LOCATION} not found")
    config = Config(str(ALEMBIC_INI) if ALEMBIC_INI.is_file() else None)
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        config.attributes["url"] = url
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise ConfigError("alembic", "no migration found")
    return head


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (idempotent)."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` down to ``revision`` (``"base"``: no tables left)."""
    await _run(url, lambda config: command.downgrade(config, revision))


async def current_revision(url: str) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    url = _checked(url)
    if _sqlite_file_missing(url):
        return None  # asking must not create the file
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except DBAPIError as exc:
        raise StoreError(_first_line(exc)) from exc
    finally:
        await engine.dispose()


async def _run(url: str, step: Callable[[Config], None]) -> None:
    url = _checked(url)
    ensure_sqlite_dir(url)
    config = alembic_config(url)
    engine = create_async_engine(url, poolclass=pool.NullPool)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        step(config)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    except DBAPIError as exc:
        raise StoreError(_first_line(exc)) from exc
    finally:
        await engine.dispose()


def _checked(url: str) -> str:
    try:
        return normalise_database_url(url)
    except ValueError as exc:
        raise ConfigError("RECONCILER_DATABASE_URL", str(exc)) from exc


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def _first_line(exc: DBAPIError) -> str:
    # The driver's message, not SQLAlchemy's echo of the statement.
    text = str(exc.orig if exc.orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
