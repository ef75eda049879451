"""Tables for what each side looked like when last read: contacts, notes, parked items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, text
from sqlmodel import Field

from reconciler.store.schema import StoreModel
from reconciler.store.types import BigIntKey, JSONType, UtcDateTime

_SIDE_CHECK = "side IN ('a', 'b')"
# Spelled as each database renders "dirty == true()" in queries, so the planner can match a
# query to this partial index (SQLite has no boolean type: it stores 0/1).
_DIRTY_SQLITE = text("dirty = 1")
_DIRTY_POSTGRES = text("dirty")
# Rows the engine has not processed since their content last changed (see ``settled_hash``).
# One spelling for both databases; queries repeat it term for term so the planner matches them.
UNSETTLED = "hash IS NOT NULL AND (settled_hash IS NULL OR settled_hash <> hash)"
_UNSETTLED = text(UNSETTLED)
_DELETED = text("deleted_at IS NOT NULL")
_EMAIL = text("email_key IS NOT NULL")
_PHONE = text("phone_key IS NOT NULL")
_SIDE_A = text("side = 'a'")


class SnapshotContactRow(StoreModel, table=True):
    """One side's last view of one contact, normalised (``fields``, ``tags`` key -> name).

    ``hash`` is the content hash of fields and tags (``codec.contact_hash``); it is NULL for a
    row known only from a webhook hint (``dirty``) and never listed yet. ``seen_run_id`` is the
    last run whose listing returned the contact; a complete listing that misses it sets
    ``missing_since``. ``notes_fetched_at`` orders the rolling note scan.
    """

    __tablename__ = "snapshot_contact"
    __table_args__ = (
        CheckConstraint(_SIDE_CHECK, name="side"),
        # Only the (few) webhook-marked rows. Deliberately no other index that starts with
        # (pair_id, side): with statistics not yet gathered after a bulk load, PostgreSQL would
        # prefer it to the primary key and test "contact_id IN (...)" row by row.
        Index(
            "ix_snapshot_contact_dirty",
            "pair_id",
            "side",
            "dirty_at",
            sqlite_where=_DIRTY_SQLITE,
            postgresql_where=_DIRTY_POSTGRES,
        ),
        # The engine's indexes (migration 0003). Each is partial or leads with a column the
        # listing queries never constrain, so none competes with the primary key (see above).
        Index(
            "ix_snapshot_contact_unsettled",
            "pair_id",
            "side",
            "contact_id",
            sqlite_where=_UNSETTLED,
            postgresql_where=_UNSETTLED,
        ),
        Index(
            "ix_snapshot_contact_deleted",
            "pair_id",
            "side",
            sqlite_where=_DELETED,
            postgresql_where=_DELETED,
        ),
        # The rolling notes scan: side A's rows (a link's contacts are read together) by when
        # their notes were read (migration 0004).
        Index(
            "ix_snapshot_contact_notes_age",
            "pair_id",
            "notes_fetched_at",
            "contact_id",
            sqlite_where=_SIDE_A,
            postgresql_where=_SIDE_A,
        ),
        Index(
            "ix_snapshot_contact_email_key",
            "email_key",
            "pair_id",
            sqlite_where=_EMAIL,
            postgresql_where=_EMAIL,
        ),
        Index(
            "ix_snapshot_contact_phone_key",
            "phone_key",
            "pair_id",
            sqlite_where=_PHONE,
            postgresql_where=_PHONE,
        ),
    )

    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE", primary_key=True)
    side: str = Field(primary_key=True)
    contact_id: str = Field(primary_key=True)
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    tags: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    date_updated: datetime | None = Field(default=None, sa_type=UtcDateTime)
    hash: str | None = None
    seen_run_id: str | None = None  # no foreign key: snapshots outlive pruned runs
    seen_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    missing_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    notes_fetched_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    dirty: bool = False
    dirty_reason: str | None = None
    dirty_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    parked_error: str | None = Field(default=None, sa_type=Text)
    # Engine bookkeeping (migration 0003):
    # ``settled_hash``: ``hash`` when the engine last finished processing the contact; a row
    # whose hash differs (new, changed, or changed by an unfinished run) is diffed again.
    settled_hash: str | None = None
    # The normalised email / E.164 phone (copies of ``fields``), indexed for matching lookups.
    email_key: str | None = None
    phone_key: str | None = None
    # Gone from a complete listing AND confirmed by a 404: the diff sees ``Absence.DELETED``.
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The survivor of a deleted peer: never matched or created again automatically.
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SnapshotNoteRow(StoreModel, table=True):
    """One side's last view of one note (body as read, hash of the normalised body)."""

    __tablename__ = "snapshot_note"
    __table_args__ = (
        CheckConstraint(_SIDE_CHECK, name="side"),
        Index("ix_snapshot_note_contact", "pair_id", "side", "contact_id"),
    )

    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE", primary_key=True)
    side: str = Field(primary_key=True)
    note_id: str = Field(primary_key=True)
    contact_id: str
    body: str = Field(sa_type=Text)
    hash: str
    fetched_at: datetime = Field(sa_type=UtcDateTime)


class ParkedItemRow(StoreModel, table=True):
    """An item a side refused permanently (4xx) or sent malformed: kept with its error."""

    __tablename__ = "parked_item"
    __table_args__ = (
        CheckConstraint(_SIDE_CHECK, name="side"),
        Index("uq_parked_item_item", "pair_id", "side", "item_kind", "item_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntKey)
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    side: str
    item_kind: str  # "contact", "note", "action", ...
    item_id: str
    error: str = Field(sa_type=Text)
    first_seen_at: datetime = Field(sa_type=UtcDateTime)
    last_seen_at: datetime = Field(sa_type=UtcDateTime)
    attempts: int = 1
