"""The bulk write path: many rows into one table in a few statements, bypassing per-row ORM
and SQLAlchemy type processing.

A first run of a 100,000-contact pair writes about a million snapshot, note, link and base
rows. Through SQLAlchemy's executemany each row costs tens of microseconds of Python (bind
processors, JSON encoding, parameter dictionaries); here values are converted once, by column
type, into what the driver takes natively, and sent as:

- SQLite: one ``executemany`` of a plain ``INSERT ... ON CONFLICT`` per chunk;
- PostgreSQL: one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT`` per chunk, the rows sent
  as one array per column.

Both run inside the caller's transaction. Values are stored exactly as the SQLAlchemy types
would store them (``UtcDateTime``, JSON, booleans), which the round-trip tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from sqlalchemy import JSON, Boolean, Dialect, Engine, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from reconciler.errors import StoreConflictError, StoreError
from reconciler.store.codec import EncodedJSON, encode_json
from reconciler.store.sql import chunks
from reconciler.store.types import UtcDateTime

Convert = Callable[[Any], Any]

# PostgreSQL: a table's planner statistics are refreshed once this process has written this
# many rows to it since they last were, and then each time it has written as many rows again
# as in all before (5,000, 10,000, 20,000, ...; see ``_Growth``).
ANALYZE_AFTER_ROWS = 5000

# PostgreSQL: rows per INSERT ... FROM unnest (arrays of this many values per column).
UNNEST_ROWS = 5000


@dataclass
class _Growth:
    """The rows this process wrote to one table, and how many when it last analyzed it.

    Without statistics (a fresh bulk load, before autovacuum gets to it, which may be minutes
    and several runs later) the planner takes a pair's rows for one row: it tests "id IN
    (...)" against every row of the pair instead of probing the primary key, or joins a
    pair's links by ``pair_id`` alone and filters every one per row it probes, turning
    milliseconds into seconds. A first sync writes its links and notes a wave at a time, far
    below any one-statement threshold, so the count is kept across statements and
    transactions. Doubling the interval keeps a load of N rows to about log2(N / 5,000)
    samplings of a few tens of milliseconds each; autovacuum keeps the statistics of a table
    that grows slowly.
    """

    written: int = 0
    analyzed_at: int = 0

    def due(self, rows: int) -> bool:
        self.written += rows
        if self.written - self.analyzed_at < max(ANALYZE_AFTER_ROWS, self.analyzed_at):
            return False
        self.analyzed_at = self.written
        return True


# Per engine (one database): the stores of several databases in one process count apart.
_GROWTH: WeakKeyDictionary[Engine, dict[str, _Growth]] = WeakKeyDictionary()
# The session's tables due an ANALYZE, run by ``Store`` once the session's transaction is over.
_DUE = "reconciler.analyze_due"


def _growth(conn: AsyncConnection, table: str) -> _Growth:
    tables = _GROWTH.setdefault(conn.sync_engine, {})
    return tables.setdefault(table, _Growth())


def take_due_analyses(s: AsyncSession) -> list[str]:
    """The tables whose statistics this session's writes made due (then forgotten).

    Not analyzed inside the writing transaction: ANALYZE holds its table's lock until the
    transaction ends, and two runs analyzing two tables in opposite orders would deadlock.
    After the commit it holds one lock for its own few tens of milliseconds, and samples the
    committed rows.
    """
    due: set[str] = s.info.pop(_DUE, set())
    return sorted(due)


async def insert_rows(
    s: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    update_indexed: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (all with the same keys); on a ``conflict`` key, update ``update``
    columns from the new row, or skip the row when ``update`` is empty.

    ``update_indexed``: more columns to update, each in an index and seldom changed (an
    email key, a note's contact). SQLite rewrites the index entry of every column an upsert
    sets, to the same value too, which at 100,000 contacts is a random index page per row
    written to the WAL; these are set by a second statement only where they differ.
    PostgreSQL compares the values itself (an unchanged indexed column keeps the update
    HOT), so there they are set by the upsert.

    With no ``conflict`` key a duplicate raises (``StoreConflictError`` at the boundary).
    """
    if not rows:
        return
    columns = list(rows[0])
    values = _values_of(columns)
    await insert_values(
        s,
        table,
        columns,
        [values(row) for row in rows],
        conflict=conflict,
        update=update,
        update_indexed=update_indexed,
    )


async def insert_values(
    s: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    update_indexed: Sequence[str] = (),
) -> None:
    """``insert_rows`` with each row given as its values in ``columns`` order: the hot paths
    (a listing's contacts, a run's notes) build no dictionary per row."""
    if not rows:
        return
    columns = list(columns)
    if update_indexed and not (conflict and update):
        raise ValueError("update_indexed needs a conflict key and update columns")
    if conflict and update:
        # One statement may not update a row twice (PostgreSQL refuses; listings can repeat
        # a record across pages): the last version of each key wins, as it would row by row.
        key = _values_of([columns.index(c) for c in conflict])
        rows = list({key(row): row for row in rows}.values())
    conn = await s.connection()
    if conn.dialect.name == "postgresql":
        await _postgres(conn, table, columns, rows, conflict, (*update, *update_indexed))
        if _growth(conn, table.name).due(len(rows)):
            s.info.setdefault(_DUE, set()).add(table.name)
    else:
        await _sqlite(conn, table, columns, rows, conflict, update, update_indexed)


def _values_of(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A function taking these items of a row, always as a tuple (``itemgetter`` of one key
    returns the bare item)."""
    if len(keys) == 1:
        only = keys[0]
        return lambda row: (row[only],)
    return itemgetter(*keys)


def _converted(
    converters: Sequence[Convert],
) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """Row values -> driver values, calling only the converters that change something (most
    columns are strings and numbers the drivers take as they are)."""
    active = [(i, convert) for i, convert in enumerate(converters) if convert is not _identity]
    if not active:
        return _identity

    def convert_row(row: Sequence[Any]) -> tuple[Any, ...]:
        out = list(row)
        for i, convert in active:
            value = out[i]
            if value is not None:  # NULL is NULL to every converter
                out[i] = convert(value)
        return tuple(out)  # what SQLAlchemy's executemany takes

    return convert_row


def _on_conflict(conflict: Sequence[str], update: Sequence[str]) -> str:
    if not conflict:
        return ""
    keys = ", ".join(_quote(c) for c in conflict)
    if not update:
        return f" ON CONFLICT ({keys}) DO NOTHING"
    sets = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in update)
    return f" ON CONFLICT ({keys}) DO UPDATE SET {sets}"


def _quote(name: str) -> str:
    # Column names are ours (never user input); quoting keeps keywords such as "trigger" safe.
    return f'"{name}"'


async def _sqlite(
    conn: AsyncConnection,
    table: Table,
    columns: list[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str],
    update: Sequence[str],
    update_indexed: Sequence[str],
) -> None:
    convert = _converted([_sqlite_converter(table, c) for c in columns])
    sql = (
        f"INSERT INTO {_quote(table.name)} ({', '.join(_quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join('?' for _ in columns)}){_on_conflict(conflict, update)}"
    )
    changed = _where_changed(table, columns, conflict, update_indexed) if update_indexed else None
    for batch in chunks(rows):
        values = [convert(row) for row in batch]
        try:
            await conn.exec_driver_sql(sql, values)
            if changed is not None:
                # Rows are unique by key (``insert_values``), so per chunk is as good as after.
                changed_sql, params = changed
                await conn.exec_driver_sql(changed_sql, [params(row) for row in values])
        except IntegrityError as exc:
            # Same error as the PostgreSQL path, whatever the caller catches.
            raise StoreConflictError(_first_line(exc.orig or exc)) from exc


def _where_changed(
    table: Table, columns: list[str], key: Sequence[str], changed: Sequence[str]
) -> tuple[str, Callable[[Sequence[Any]], tuple[Any, ...]]]:
    """The statement that sets the ``changed`` columns of a row (found by ``key``) only where
    the stored values differ (a row with the same values is not written at all; one just
    inserted has them already), and the parameters it takes from a converted row."""
    params = _values_of([columns.index(c) for c in (*changed, *key, *changed)])
    sets = ", ".join(f"{_quote(c)} = ?" for c in changed)
    match = " AND ".join(f"{_quote(c)} = ?" for c in key)
    differs = " OR ".join(f"{_quote(c)} IS NOT ?" for c in changed)
    sql = f"UPDATE {_quote(table.name)} SET {sets} WHERE {match} AND ({differs})"  # noqa: S608
    return sql, params


async def _postgres(
    conn: AsyncConnection,
    table: Table,
    columns: list[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    convert = _converted([_postgres_converter(table, c) for c in columns])
    statement = _unnest_insert(table, columns, conflict, update, conn.dialect)
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # an open pooled connection
    try:
        async with driver.cursor() as cursor:
            for batch in chunks(rows, UNNEST_ROWS):
                # Column-wise: one array per column, whatever the number of rows.
                arrays = [list(values) for values in zip(*map(convert, batch), strict=True)]
                await cursor.execute(statement, arrays)
    except psycopg.errors.IntegrityError as exc:
        raise StoreConflictError(_first_line(exc)) from exc
    except psycopg.Error as exc:
        raise StoreError(_first_line(exc)) from exc


def _unnest_insert(
    table: Table,
    columns: Sequence[str],
    conflict: Sequence[str],
    update: Sequence[str],
    dialect: Dialect,
) -> str:
    """``INSERT ... SELECT FROM unnest(%b::type[], ...)``: a batch's rows as one array per
    column, in one statement.

    It replaced COPY into a temporary staging table: every call created and dropped a table,
    i.e. rows inserted and deleted in ``pg_class``, ``pg_attribute`` and ``pg_type``, dozens
    of times a run, for every pair, all day: catalog bloat that only autovacuum undid. The
    arrays go in binary (``%b``): as text, the server parses every value out of an escaped
    array literal, 5x slower than COPY (5,000 audit rows: 0.10 s against 0.02 s; in binary
    0.016 s). JSON travels as text, as the JSON type stores it, and is cast per value.
    """
    names = ", ".join(_quote(c) for c in columns)
    arrays: list[str] = []
    picks: list[str] = []
    for column in columns:
        kind = table.c[column].type
        name = kind.compile(dialect=dialect).lower()
        if isinstance(kind, JSON):  # as ``_postgres_converter`` tells them, which sends text
            arrays.append("%b::text[]")
            picks.append(f"{_quote(column)}::{name}")
        else:
            arrays.append(f"%b::{name}[]")
            picks.append(_quote(column))
    return (
        f"INSERT INTO {_quote(table.name)} ({names}) "  # noqa: S608
        f"SELECT {', '.join(picks)} FROM unnest({', '.join(arrays)}) AS v ({names})"
        f"{_on_conflict(conflict, update)}"
    )


def _first_line(error: BaseException) -> str:
    # The driver's message without its DETAIL line (which echoes row values).
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _identity(value: Any) -> Any:
    return value


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, EncodedJSON):
        return value
    return encode_json(value)


def _sqlite_converter(table: Table, column: str) -> Convert:
    kind = table.c[column].type
    if isinstance(kind, UtcDateTime):
        return _repeats(_sqlite_datetime)
    if isinstance(kind, JSON):
        return _json_text
    if isinstance(kind, Boolean):
        return _sqlite_bool
    return _identity


def _postgres_converter(table: Table, column: str) -> Convert:
    kind = table.c[column].type
    if isinstance(kind, UtcDateTime):
        return _aware
    if isinstance(kind, JSON):
        return _json_text  # sent as text, cast to jsonb per value (see _unnest_insert)
    return _identity


def _repeats(convert: Convert) -> Convert:
    # A run stamps thousands of rows in a row with the same time (seen_at, fetched_at): the
    # last conversion is kept (a dictionary of every value would grow with unique ones).
    last: list[Any] = [None, None]

    def cached(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return cached


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} (the store keeps aware UTC)")
    return value


def _sqlite_datetime(value: datetime | None) -> str | None:
    aware = _aware(value)
    if aware is None:
        return None
    # SQLAlchemy's format ("%Y-%m-%d %H:%M:%S.%f", the year zero-padded); isoformat writes
    # it several times faster than strftime.
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))
