"""Column types and id/time helpers shared by every table.

Identifiers: rows that people or other components refer to (pairs, side accounts, links, note
links, conflicts, overrides, runs, plans, API keys) have string ids, a UUIDv7 as 32 hex
characters (``new_id``), made in Python so a caller knows an id before the insert (plans refer to
links that the same run creates; the journal names what it is about to write). Version 7 leads
with the time, so ids made one after another sort together: a first sync's 100,000 new links
are appended to the right-hand pages of every index keyed by link id (``contact_link``,
``link_base``, ``note_link.link_id``) instead of dirtying pages all over them in every commit,
as random (version 4) ids did. Ids made before keep their form: nothing reads meaning into one.
Rows that are internal and numerous (plan actions, journal entries, parked items, audit
events, webhook receipts) have integer keys that the database assigns. Snapshot rows have their
natural key (pair, side, contact id / note id) as primary key, which is also what every upsert
conflicts on.

Timestamps: aware UTC ``datetime`` in Python, always. PostgreSQL stores ``timestamptz``; SQLite
stores naive UTC in SQLAlchemy's fixed-width ISO format, which sorts correctly as text.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def new_id() -> str:
    """A UUIDv7 (RFC 9562) in hex: 48 bits of Unix milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10))
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return f"{value:032x}"


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
