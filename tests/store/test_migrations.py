"""The migrations build exactly the schema the tables declare, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from reconciler.store.migrate import current_revision, downgrade, head_revision, upgrade
from reconciler.store.tables import metadata


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _check_constraints(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {str(check["name"]) for check in inspector.get_check_constraints(table)}
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def _declared_checks() -> dict[str, set[str]]:
    return {
        name: {
            str(c.name)
            for c in table.constraints
            if c.__class__.__name__ == "CheckConstraint" and c.name is not None
        }
        for name, table in metadata.tables.items()
    }


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _run(url: str, fn: Any) -> Any:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def test_migrated_schema_equals_the_tables(store_url: str) -> None:
    assert await current_revision(store_url) == head_revision()
    assert await _run(store_url, _schema_diff) == []
    # Alembic does not compare CHECK constraints: compare their names here.
    checks = await _run(store_url, _check_constraints)
    declared = _declared_checks()
    assert {t: c for t, c in checks.items() if c} == {t: c for t, c in declared.items() if c}


async def test_downgrade_to_base_and_upgrade_again(store_url: str) -> None:
    await downgrade(store_url, "base")
    assert await _run(store_url, _tables) <= {"alembic_version"}
    assert await current_revision(store_url) is None
    await upgrade(store_url)
    await upgrade(store_url)  # idempotent
    assert await _run(store_url, _tables) == set(metadata.tables) | {"alembic_version"}
    assert await _run(store_url, _schema_diff) == []
