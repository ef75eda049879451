"""Tables for pairs, the side accounts they join, and service-wide rows (API keys, webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field

from reconciler.store.schema import AccountKind, ApiKeyRole, AuthKind, StoreModel, check_in
from reconciler.store.types import JSONType, UtcDateTime, new_id, utcnow


class SideAccountRow(StoreModel, table=True):
    """One account of one system (a HighLevel location, a memory side) and its credentials.

    ``credentials`` is a Fernet token (see ``crypto.Cipher``) of a JSON object: access/refresh
    token or PIT, expiry, scopes, and the OAuth client secret when it is per account. It is
    never stored, logged or returned in plain text.
    """

    __tablename__ = "side_account"
    __table_args__ = (
        CheckConstraint(check_in("kind", AccountKind), name="kind"),
        CheckConstraint(f"auth_kind IS NULL OR {check_in('auth_kind', AuthKind)}", name="auth"),
        # One location, one account: its (rotating) tokens must live in exactly one row.
        Index("uq_side_account_location", "kind", "location_id", unique=True),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    label: str
    kind: str
    location_id: str | None = None
    base_url: str | None = None
    auth_kind: str | None = None
    credentials: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class PairRow(StoreModel, table=True):
    """Two side accounts kept in agreement, with the pair's policy and scan progress.

    ``policy`` holds the fields of ``sync.model.PairPolicy`` (see ``codec``). Per side,
    ``*_watermark`` is the ``since`` of the next incremental listing and ``*_full_scan_at``
    when the last complete listing finished (deletions are only believed after one).
    """

    __tablename__ = "pair"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(unique=True)
    side_a_account_id: str = Field(foreign_key="side_account.id", ondelete="RESTRICT")
    side_b_account_id: str = Field(foreign_key="side_account.id", ondelete="RESTRICT")
    policy: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    schedule_interval_s: int = 900
    enabled: bool = True
    a_watermark: datetime | None = Field(default=None, sa_type=UtcDateTime)
    b_watermark: datetime | None = Field(default=None, sa_type=UtcDateTime)
    a_full_scan_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    b_full_scan_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Migration 0003: the engine's scan settings (``sync.snapshot.ScanSettings``), {} = defaults.
    scan: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class PairLeaseRow(StoreModel, table=True):
    """Which process runs a pair right now, until when (several processes share one store)."""

    __tablename__ = "pair_lease"

    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE", primary_key=True)
    holder: str
    expires_at: datetime = Field(sa_type=UtcDateTime)


class ApiKeyRow(StoreModel, table=True):
    """An API key: only its SHA-256 is stored; ``prefix`` finds the row without the secret."""

    __tablename__ = "api_key"
    __table_args__ = (CheckConstraint(check_in("role", ApiKeyRole), name="role"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str
    role: str
    prefix: str = Field(unique=True)
    key_hash: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebhookReceiptRow(StoreModel, table=True):
    """A webhook delivery seen, by its ``webhookId``: the replay guard refuses a second one."""

    __tablename__ = "webhook_receipt"

    webhook_id: str = Field(primary_key=True)
    received_at: datetime = Field(sa_type=UtcDateTime, index=True)
