"""Column types and id/time helpers shared by every table.

Identifiers: rows that people or other components refer to (pairs, side accounts, links, note
links, conflicts, overrides, runs, plans, API keys) have string ids, ``uuid4().hex`` (32 hex
characters), made in Python so a caller knows an id before the insert (plans refer to links that
the same run creates; the journal names what it is about to write). Rows that are internal and
numerous (plan actions, journal entries, parked items, audit events, webhook receipts) have
integer keys that the database assigns. Snapshot rows have their natural key (pair, side,
contact id / note id) as primary key, which is also what every upsert conflicts on.

Timestamps: aware UTC ``datetime`` in Python, always. PostgreSQL stores ``timestamptz``; SQLite
stores naive UTC in SQLAlchemy's fixed-width ISO format, which sorts correctly as text.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases; naive datetimes are refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (the store keeps aware UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL (compact, comparable), JSON text on SQLite. Python None is
# SQL NULL, so "absent" stays distinguishable by IS NULL in queries.
JSONType: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)

# Integer keys for numerous internal rows: 64-bit on PostgreSQL; on SQLite only a column typed
# exactly INTEGER becomes the rowid alias that autoincrements.
BigIntKey: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
