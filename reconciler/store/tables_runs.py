"""Tables for what the service did: runs, plans and their actions, the write journal, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field

from reconciler.store.schema import JournalStatus, PlanStatus, RunTrigger, StoreModel, check_in
from reconciler.store.types import BigIntKey, JSONType, UtcDateTime, new_id, utcnow


class RunRow(StoreModel, table=True):
    """One reconciliation run of one pair.

    ``a_complete``/``b_complete``: whether that side's listing was complete (None: not read).
    ``requests``: {"a": {endpoint: count}, "b": {...}}; ``counts``: action kind -> count.
    ``plan_id`` has no foreign key because a plan names its run (no cycle of constraints).
    """

    __tablename__ = "run"
    __table_args__ = (
        # "trigger" is an SQL keyword: quoted in the raw CHECK text.
        CheckConstraint(check_in('"trigger"', RunTrigger), name="trigger"),
        Index("ix_run_pair_started", "pair_id", "started_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    trigger: str
    dry_run: bool = False
    status: str
    started_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    a_complete: bool | None = None
    b_complete: bool | None = None
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    requests: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    errors: list[Any] = Field(default_factory=list, sa_type=JSONType)
    conflicts_opened: int = 0
    plan_id: str | None = None
    # Migration 0003 (NULL on runs recorded before it): conflicts closed, items parked.
    conflicts_closed: int | None = None
    parked: int | None = None


class PlanRow(StoreModel, table=True):
    """A persisted plan; ``fingerprint`` of both sides' snapshot state detects staleness."""

    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint(check_in("status", PlanStatus), name="status"),
        Index("ix_plan_pair_created", "pair_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    run_id: str | None = Field(default=None, foreign_key="run.id", ondelete="SET NULL")
    status: str = PlanStatus.PENDING.value
    fingerprint: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # Migration 0003: what the engine needs to re-check the plan (notes it read, why stored).
    context: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class PlanActionRow(StoreModel, table=True):
    """One action of a plan (``sync.model.Action``), in order; its reason is kept for display."""

    __tablename__ = "plan_action"
    __table_args__ = (Index("uq_plan_action_seq", "plan_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntKey)
    plan_id: str = Field(foreign_key="plan.id", ondelete="CASCADE")
    seq: int
    kind: str
    side: str | None = None
    link_id: str | None = None  # no foreign key: the link may be made by this very plan
    contact_id: str | None = None
    source_side: str | None = None
    source_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    reason: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)


class JournalRow(StoreModel, table=True):
    """A write's intent (committed before the call) and its outcome (committed after)."""

    __tablename__ = "journal"
    __table_args__ = (
        CheckConstraint(check_in("status", JournalStatus), name="status"),
        Index("uq_journal_run_seq", "run_id", "seq", unique=True),
        Index("ix_journal_pair_status", "pair_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntKey)
    run_id: str = Field(foreign_key="run.id", ondelete="CASCADE")
    pair_id: str = Field(foreign_key="pair.id", ondelete="CASCADE")
    seq: int
    action: dict[str, Any] = Field(sa_type=JSONType)
    status: str = JournalStatus.PENDING.value
    intent_at: datetime = Field(sa_type=UtcDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    error: str | None = Field(default=None, sa_type=Text)


class AuditEventRow(StoreModel, table=True):
    """Something that happened and who did it (applied actions, resolutions, key changes)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_pair_at", "pair_id", "at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntKey)
    pair_id: str | None = Field(default=None, foreign_key="pair.id", ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    actor: str
    kind: str
    subject: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
