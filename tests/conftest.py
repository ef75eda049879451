"""Store fixtures for every test area: a fresh, migrated database per test, on SQLite AND
PostgreSQL.

- ``store_url``: parametrised ``sqlite`` / ``postgresql``; a new database per test, already at
  the head migration, dropped afterwards.
- ``store``: a ``Store`` on that database (disposed afterwards).

Creation is cheap: each database is migrated once per test session into a template (a SQLite
file, a PostgreSQL template database) and cloned per test (file copy, ``CREATE DATABASE ...
TEMPLATE``).

PostgreSQL comes from ``RECONCILER_TEST_POSTGRES_URL`` (default the local server). When it is
unreachable its parameters are skipped, unless ``RECONCILER_REQUIRE_POSTGRES=1`` (CI), which
turns that into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from reconciler.store.db import Store
from reconciler.store.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "RECONCILER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("RECONCILER_REQUIRE_POSTGRES") == "1"


def _postgres_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


def _admin_conninfo() -> str:
    # psycopg wants a libpq URI: the same URL without SQLAlchemy's "+psycopg" driver part.
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _admin_execute(statement: sql.Composed) -> None:
    with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def _database_name(kind: str) -> str:
    # The pid lets a later session drop what a killed one left behind (see below).
    return f"reconciler_{kind}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _drop_orphans() -> None:
    """Drop test databases whose creating process is gone (a run killed mid-way)."""
    with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname ~ '^reconciler_(t|tpl)_[0-9]+_'"
            )
        ]
    for name in names:
        pid = int(name.split("_")[2])
        if not _alive(pid):
            _drop_database(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_database(name: str) -> None:
    # FORCE: a test that leaked a connection must not leave its database behind.
    _admin_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    try:
        with psycopg.connect(_admin_conninfo(), connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {make_url(POSTGRES_URL).render_as_string()}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} and RECONCILER_REQUIRE_POSTGRES=1: {exc}")
        pytest.skip(reason)
    _drop_orphans()
    name = _database_name("tpl")
    _admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        asyncio.run(upgrade(_postgres_url(name)))
        yield name
    finally:
        _drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database at the head migration (one per test)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "store.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = _database_name("t")
    _admin_execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template_name)
        )
    )
    try:
        yield _postgres_url(name)
    finally:
        _drop_database(name)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A ``Store`` on a fresh, migrated database (SQLite and PostgreSQL)."""
    instance = Store(store_url)
    try:
        yield instance
    finally:
        await instance.dispose()
