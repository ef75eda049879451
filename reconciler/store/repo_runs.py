"""Runs and persisted plans (a dry run's plan, applied later by id unless stale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.store.bulk import insert_rows
from reconciler.store.codec import (
    action_to_json,
    reason_from_json,
    side_or_none,
)
from reconciler.store.schema import PlanStatus, RunStatus, RunTrigger, table_of
from reconciler.store.sql import before_key, rowcount
from reconciler.store.tables import PlanActionRow, PlanRow, RunRow
from reconciler.store.types import new_id
from reconciler.sync.model import Action, ActionKind, Plan

_RUN = table_of(RunRow)
_PLAN = table_of(PlanRow)
_ACTION = table_of(PlanActionRow)

# ------------------------------------------------------------------------------------- runs


async def start_run(
    s: AsyncSession,
    pair_id: str,
    *,
    trigger: RunTrigger,
    now: datetime,
    dry_run: bool = False,
    run_id: str | None = None,
) -> RunRow:
    row = RunRow(
        id=run_id or new_id(),
        pair_id=pair_id,
        trigger=RunTrigger(trigger).value,
        dry_run=dry_run,
        status=RunStatus.RUNNING.value,
        started_at=now,
    )
    s.add(row)
    await s.flush()
    return row


async def finish_run(
    s: AsyncSession,
    run_id: str,
    *,
    status: RunStatus,
    now: datetime,
    a_complete: bool | None = None,
    b_complete: bool | None = None,
    counts: Mapping[str, int] | None = None,
    requests: Mapping[str, Mapping[str, int]] | None = None,
    errors: Sequence[Mapping[str, Any] | str] | None = None,
    conflicts_opened: int = 0,
    plan_id: str | None = None,
    conflicts_closed: int | None = None,
    parked: int | None = None,
) -> None:
    await s.execute(
        update(_RUN)
        .where(_RUN.c.id == run_id)
        .values(
            status=RunStatus(status).value,
            finished_at=now,
            a_complete=a_complete,
            b_complete=b_complete,
            counts=dict(counts or {}),
            requests={side: dict(per) for side, per in (requests or {}).items()},
            errors=list(errors or []),
            conflicts_opened=conflicts_opened,
            plan_id=plan_id,
            conflicts_closed=conflicts_closed,
            parked=parked,
        )
    )


async def get_run(s: AsyncSession, run_id: str) -> RunRow | None:
    return await s.get(RunRow, run_id, populate_existing=True)


async def list_runs(
    s: AsyncSession,
    pair_id: str,
    *,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[RunRow]:
    """Newest first; ``before`` is the (started_at, id) of the previous page's last run."""
    query = select(RunRow).where(_RUN.c.pair_id == pair_id)
    if before is not None:
        query = query.where(before_key(_RUN.c.started_at, _RUN.c.id, before))
    query = query.order_by(_RUN.c.started_at.desc(), _RUN.c.id.desc()).limit(limit)
    result = await s.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())


async def unfinished_runs(s: AsyncSession, pair_id: str) -> list[RunRow]:
    """Runs still marked running (a crashed process leaves these behind)."""
    result = await s.execute(
        select(RunRow)
        .where(_RUN.c.pair_id == pair_id, _RUN.c.status == RunStatus.RUNNING.value)
        .order_by(_RUN.c.started_at)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


# ------------------------------------------------------------------------------------ plans


async def save_plan(
    s: AsyncSession,
    pair_id: str,
    plan: Plan,
    *,
    fingerprint: str,
    now: datetime,
    run_id: str | None = None,
) -> PlanRow:
    """Persist a plan's actions in order (seq 1..n), each with its reason."""
    row = PlanRow(
        id=new_id(),
        pair_id=pair_id,
        run_id=run_id,
        status=PlanStatus.PENDING.value,
        fingerprint=fingerprint,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    await s.flush()
    rows = []
    for seq, action in enumerate(plan.actions, start=1):
        data = action_to_json(action)
        rows.append(
            {
                "plan_id": row.id,
                "seq": seq,
                "kind": data["kind"],
                "side": data["side"],
                "link_id": data["link_id"],
                "contact_id": data["contact_id"],
                "source_side": data["source_side"],
                "source_id": data["source_id"],
                "payload": data["payload"],
                "reason": data["reason"],
            }
        )
    await insert_rows(s, _ACTION, rows)
    return row


async def get_plan(s: AsyncSession, plan_id: str) -> PlanRow | None:
    return await s.get(PlanRow, plan_id, populate_existing=True)


async def plan_actions(s: AsyncSession, plan_id: str) -> list[Action]:
    """The plan's actions in their order."""
    result = await s.execute(
        select(_ACTION).where(_ACTION.c.plan_id == plan_id).order_by(_ACTION.c.seq)
    )
    return [
        Action(
            kind=ActionKind(row.kind),
            reason=reason_from_json(row.reason),
            side=side_or_none(row.side),
            link_id=row.link_id,
            contact_id=row.contact_id,
            source_side=side_or_none(row.source_side),
            source_id=row.source_id,
            payload=dict(row.payload or {}),
        )
        for row in result
    ]


async def set_plan_status(
    s: AsyncSession,
    plan_id: str,
    status: PlanStatus,
    *,
    now: datetime,
    expected: PlanStatus | None = PlanStatus.PENDING,
) -> bool:
    """Move a plan to ``status`` only from ``expected`` (None: from any); False otherwise.

    One conditional UPDATE: two requests applying the same plan cannot both win.
    """
    query = update(_PLAN).where(_PLAN.c.id == plan_id)
    if expected is not None:
        query = query.where(_PLAN.c.status == PlanStatus(expected).value)
    result = await s.execute(query.values(status=PlanStatus(status).value, updated_at=now))
    return rowcount(result) == 1


async def list_plans(
    s: AsyncSession, pair_id: str, *, status: PlanStatus | None = None, limit: int = 50
) -> list[PlanRow]:
    query = select(PlanRow).where(_PLAN.c.pair_id == pair_id)
    if status is not None:
        query = query.where(_PLAN.c.status == PlanStatus(status).value)
    query = query.order_by(_PLAN.c.created_at.desc(), _PLAN.c.id.desc()).limit(limit)
    result = await s.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())
