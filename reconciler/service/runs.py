"""Run operations: start a run of a pair (dry or not), apply a stored plan.

The sides are reached only through the injected ``SideOpener`` (``pair id -> async context
manager of SidePair``), which the engine provides; the run itself is the engine's
``reconcile``/``apply_plan`` (``reconciler.sync.run``). Each request is audited with who made
it, and a ``RunFinished`` event is published when the run is over.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.errors import PairBusyError, PlanStaleError, SideError
from reconciler.service import events
from reconciler.service.errors import StateConflictError, UnavailableError, UnknownObjectError
from reconciler.store import repo_audit, repo_pairs, repo_runs
from reconciler.store.db import Store
from reconciler.store.schema import PlanStatus, RunTrigger
from reconciler.store.tables import PlanRow, RunRow
from reconciler.store.types import utcnow
from reconciler.sync.run import RunReport, apply_plan, reconcile

Clock = Callable[[], datetime]
SideOpener = Callable[[str], AbstractAsyncContextManager[Any]]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    report: RunReport
    run: RunRow | None
    plan: PlanRow | None


async def start_run(
    store: Store,
    pair_id: str,
    *,
    dry_run: bool,
    side_opener: SideOpener | None,
    actor: str,
    trigger: RunTrigger = RunTrigger.MANUAL,
    clock: Clock = utcnow,
    bus: events.EventBus | None = None,
) -> RunOutcome:
    """Run the pair now; a dry run plans only and stores the plan for ``apply_stored_plan``."""
    opener = _opener(side_opener)
    async with store.transaction() as s:
        if await repo_pairs.get_pair(s, pair_id) is None:
            raise UnknownObjectError("no such pair", field="pairId")
        await _audit(s, actor, "run.requested", clock(), pair_id, {"dry_run": dry_run})
    try:
        async with opener(pair_id) as sides:
            report = await reconcile(
                store, pair_id, sides, dry_run=dry_run, trigger=RunTrigger(trigger).value
            )
    except PairBusyError as exc:
        raise StateConflictError("the pair is being run right now", code="BUSY") from exc
    except SideError as exc:
        raise UnavailableError(f"a side could not be reached: {exc}", code="SIDE_ERROR") from exc
    return await _outcome(store, report, bus)


async def apply_stored_plan(
    store: Store,
    plan_id: str,
    *,
    side_opener: SideOpener | None,
    actor: str,
    clock: Clock = utcnow,
    bus: events.EventBus | None = None,
) -> RunOutcome:
    """Apply a dry run's plan, unless a side changed since it was made (``STALE``)."""
    opener = _opener(side_opener)
    async with store.transaction() as s:
        plan = await repo_runs.get_plan(s, plan_id)
        if plan is None:
            raise UnknownObjectError("no such plan", field="planId")
        if plan.status != PlanStatus.PENDING.value:
            code = "STALE" if plan.status == PlanStatus.STALE.value else "CONFLICT"
            raise StateConflictError(f"the plan is {plan.status}", field="planId", code=code)
        await _audit(s, actor, "plan.apply_requested", clock(), plan.pair_id, {"plan_id": plan_id})
    try:
        async with opener(plan.pair_id) as sides:
            report = await apply_plan(store, plan_id, sides)
    except PlanStaleError as exc:
        raise StateConflictError(
            "a side changed since the plan was made: start a new dry run",
            field="planId",
            code="STALE",
        ) from exc
    except PairBusyError as exc:
        raise StateConflictError("the pair is being run right now", code="BUSY") from exc
    except SideError as exc:
        raise UnavailableError(f"a side could not be reached: {exc}", code="SIDE_ERROR") from exc
    return await _outcome(store, report, bus)


def _opener(side_opener: SideOpener | None) -> SideOpener:
    if side_opener is None:
        raise UnavailableError("this server was started without access to the sides")
    return side_opener


async def _outcome(store: Store, report: RunReport, bus: events.EventBus | None) -> RunOutcome:
    async with store.session() as s:
        run = await repo_runs.get_run(s, report.run_id)
        plan = await repo_runs.get_plan(s, report.plan_id) if report.plan_id else None
    (bus or events.bus).publish(events.RunFinished(report.pair_id, report.run_id, report.status))
    return RunOutcome(report=report, run=run, plan=plan)


async def _audit(
    s: Any, actor: str, kind: str, at: datetime, pair_id: str, detail: dict[str, Any]
) -> None:
    await repo_audit.append(
        s,
        [
            repo_audit.AuditEntry(
                actor=actor, kind=kind, at=at, pair_id=pair_id, subject=pair_id, detail=detail
            )
        ],
    )
