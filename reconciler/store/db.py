"""``Store``: the async engine and sessions over SQLite (embedded) or PostgreSQL (scale-out).

Repositories are plain async functions taking an ``AsyncSession``, so one transaction can span
several of them (the journal rule: a write's result and the new base commit together)::

    async with store.transaction() as s:     # commits on success, rolls back on error
        await repo_journal.mark_done(s, ...)
        await repo_links.save_bases(s, ...)

Sessions do not expire objects on commit: rows returned by repositories stay readable after the
transaction, and nothing is ever lazy-loaded (there are no ORM relationships).

SQLite note: the driver opens a transaction at the first write, not at the first read, so
where two writers could race, repositories do not rely on a read-then-write inside one
transaction; they use single statements (upserts, conditional updates) instead, which is also
what makes them correct under PostgreSQL's READ COMMITTED. (The few read-then-writes left are
per run, and a run holds its pair's lease; ``DbTokenStore`` locks explicitly.)

One ``Store`` per process and database; an in-memory SQLite URL is not supported (each pooled
connection would see its own empty database).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from reconciler.errors import ConfigError, StoreConflictError, StoreError
from reconciler.settings import Settings, normalise_database_url
from reconciler.store.bulk import take_due_analyses

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000


class Store:
    """An async engine and session factory for one database URL."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5) -> None:
        try:
            self.url = normalise_database_url(url)
        except ValueError as exc:
            raise ConfigError("RECONCILER_DATABASE_URL", str(exc)) from exc
        ensure_sqlite_dir(self.url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.url.startswith("postgresql"):
            # No server-side prepared statements: after five runs psycopg would prepare a
            # query, and PostgreSQL may then settle on a generic plan that cannot see the
            # values (a pair's rows look like one row, an id list gets scanned row by row).
            # Unnamed statements are planned for their actual values every time; this also
            # keeps the store usable behind a transaction-pooling PgBouncer.
            kwargs.update(
                pool_size=pool_size,
                pool_pre_ping=True,
                connect_args={"prepare_threshold": None},
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(settings.database_url)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits. Database errors surface as ``StoreError``s."""
        async with self._sessions() as session:
            with _translated_errors():
                yield session
        await self._refresh_statistics(session)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on exit, rolled back on an error."""
        async with self._sessions() as session:
            with _translated_errors():
                async with session.begin():
                    yield session
        await self._refresh_statistics(session)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """One pooled connection for Core statements; the caller commits."""
        async with self.engine.connect() as connection:
            with _translated_errors():
                yield connection

    async def _refresh_statistics(self, session: AsyncSession) -> None:
        """ANALYZE the tables the session's bulk writes made due (PostgreSQL; see
        ``bulk.take_due_analyses``), each in a statement of its own, outside any transaction.

        The session's work is over (committed, or left uncommitted by its caller): a failure
        here is logged and swallowed, never reported as the failure of a committed write.
        """
        tables = take_due_analyses(session)
        if not tables:
            return
        try:
            async with self.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                for table in tables:
                    await autocommit.exec_driver_sql(f'ANALYZE "{table}"')
        except (SQLAlchemyError, OSError) as exc:  # a pool timeout too, not only the server
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            log.warning(
                "could not refresh planner statistics of %s: %s",
                ", ".join(tables),
                reason[0] if reason else type(exc).__name__,
            )

    async def dispose(self) -> None:
        await self.engine.dispose()


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file (SQLite creates the file, not its folder)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; synchronous=NORMAL is durable across process
    # crashes in WAL mode (only an OS crash can lose the last commits); SQLite ignores foreign
    # keys unless told per connection; busy_timeout waits for the writer instead of failing.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # 16 MB of page cache (SQLite's default is 2 MB): a run's bulk writes touch index
        # pages all over tables of hundreds of thousands of rows; with too small a cache each
        # page is spilled and written again many times within one transaction.
        cursor.execute("PRAGMA cache_size=-16384")
    finally:
        cursor.close()


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turns SQLAlchemy's database errors into the project's error tree (``raise ... from``)."""
    try:
        yield
    except IntegrityError as exc:
        raise StoreConflictError(_first_line(exc.orig)) from exc
    except DBAPIError as exc:
        raise StoreError(_first_line(exc.orig)) from exc


def _first_line(error: BaseException | None) -> str:
    # The driver's message, without SQLAlchemy's echo of the statement and its parameters
    # (parameters can hold personal data or secrets).
    text = str(error) if error is not None else "database error"
    return text.strip().splitlines()[0] if text.strip() else "database error"
