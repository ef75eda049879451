"""Tables for what is agreed between the sides: links, their bases, note links, conflicts and
overrides (people's decisions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, text
from sqlmodel import Field

from reconciler.store.schema import ConflictStatus, LinkStatus, StoreModel, check_in
from reconciler.store.types import JSONType, UtcDateTime, new_id, utcnow

_ACTIVE = text("status = 'active'")
_OPEN = text("status = 'open'")


class ContactLinkRow(StoreModel, table=True):
    """Contact ``a_id`` on side A is the same person as ``b_id`` on side B.

    A contact has at most one *active* link per pair (partial unique indexes); unlinked rows
    stay for history and for the conflicts and audit events that name them.
    """

    __tablename__ = "contact_link"
    __table_args__ = (
        CheckConstraint(check_in("status", LinkStatus), name="status"),
        Index(
            "uq_contact_link_active_a",
            "pair_id",
            "a_id",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index(
            "uq_contact_link_active_b",
            "pair_id",
            "b_id",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        # Lookups by contact id include unlinked rows too (history, re-linking).
        Index("ix_contact_link_pair_a", "pair_id", "a_id"),
        Index("ix_contact_link_pair_b", "pair_id", "b_id"),
        # The API's contact pages: a pair's active links, newest first (migration 0002).
        Index("ix_contact_link_pair_status_created", "pair_id", "status", "created_at", "id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    a_id: str
    b_id: str
    status: str = LinkStatus.ACTIVE.value
    excluded: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LinkBaseRow(StoreModel, table=True):
    """The last agreed core fields and tags of a link (its notes' bases are note links).

    ``fields`` maps core field name -> normalised value; ``tags`` maps tag key -> agreed name.
    """

    __tablename__ = "link_base"

    link_id: str = Field(foreign_key="contact_link.id", ondelete="CASCADE", primary_key=True)
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    tags: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class NoteLinkRow(StoreModel, table=True):
    """Note ``a_note_id`` on A is the same note as ``b_note_id`` on B; base body and hash."""

    __tablename__ = "note_link"
    __table_args__ = (
        Index("uq_note_link_pair_a", "pair_id", "a_note_id", unique=True),
        Index("uq_note_link_pair_b", "pair_id", "b_note_id", unique=True),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    link_id: str = Field(foreign_key="contact_link.id", ondelete="CASCADE", index=True)
    a_note_id: str
    b_note_id: str
    base_body: str = Field(sa_type=Text)
    base_hash: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ConflictRow(StoreModel, table=True):
    """A disagreement kept open with base, A and B values until a person or the sides settle it.

    At most one *open* conflict per (pair, link, kind, scope): a partial unique index on
    ``link_key``, which is the link id or ``""`` for conflicts on no link (an ambiguous match),
    because a NULL in a unique index never collides with another NULL.
    """

    __tablename__ = "conflict"
    __table_args__ = (
        CheckConstraint(check_in("status", ConflictStatus), name="status"),
        Index(
            "uq_conflict_open_scope",
            "pair_id",
            "link_key",
            "kind",
            "scope",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_conflict_pair_status_detected", "pair_id", "status", "detected_at"),
        # The API's conflict pages across all pairs (the inbox), newest first (migration 0002).
        Index("ix_conflict_status_detected", "status", "detected_at", "id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    link_id: str | None = Field(
        default=None, foreign_key="contact_link.id", ondelete="SET NULL", index=True
    )
    link_key: str = ""
    kind: str
    scope: str
    status: str = ConflictStatus.OPEN.value
    base_value: Any = Field(default=None, sa_type=JSONType, nullable=True)
    a_value: Any = Field(default=None, sa_type=JSONType, nullable=True)
    b_value: Any = Field(default=None, sa_type=JSONType, nullable=True)
    reason: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    proposed: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    resolution: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    resolved_by: str | None = None
    detected_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OverrideRow(StoreModel, table=True):
    """A person's decision that beats policy (``sync.model.Override``); soft-deleted."""

    __tablename__ = "override"
    __table_args__ = (
        CheckConstraint("pin IS NULL OR pin IN ('a', 'b')", name="pin"),
        Index("ix_override_pair_deleted", "pair_id", "deleted_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    scope: str
    pin: str | None = None
    exclude: bool = False
    link_id: str | None = Field(default=None, foreign_key="contact_link.id", ondelete="CASCADE")
    tag_key: str | None = None
    note_link_id: str | None = None  # no foreign key: the override outlives a re-linked note
    field_name: str | None = None
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_by: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
