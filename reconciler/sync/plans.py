"""Stored plans: a dry run's plan (or one stopped by the delete guard), kept to be applied
later by id, and the check that it still holds.

A plan is a pure function of the state it was made from, so "has anything the plan touches
changed?" is answered by planning again on fresh snapshots and comparing, per link (or per
contact a link is to be made for), the fresh actions with the stored ones. Any difference in
a group the stored plan has is a change it did not account for: the plan is stale. Groups that
only the fresh plan has are changes elsewhere; they are left to the next run.

``plan.context`` keeps what the check needs to reproduce the planning: the contacts whose notes
the plan was made with (exactly those are read again, so a note diff is compared like with
like), and why the plan was stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from reconciler.store import repo_runs, repo_sync
from reconciler.store.codec import action_to_json
from reconciler.store.schema import PlanStatus
from reconciler.sync.model import Action, LinkPlan, Plan
from reconciler.sync.notes import FreshNotes
from reconciler.sync.runtime import RunContext


def group_key(action: Action) -> str | None:
    """Which link an action belongs to: its link id, or the ref of the link its plan makes."""
    ref = action.payload.get("link_ref")
    return action.link_id or (str(ref) if ref is not None else None)


def plan_key(link_plan: LinkPlan) -> str | None:
    if link_plan.link_id is not None:
        return link_plan.link_id
    for action in link_plan.actions:
        key = group_key(action)
        if key is not None:
            return key
    return None


def _grouped(actions: Sequence[Action]) -> dict[str | None, list[dict[str, Any]]]:
    out: dict[str | None, list[dict[str, Any]]] = {}
    for action in actions:
        out.setdefault(group_key(action), []).append(action_to_json(action))
    return out


def fingerprint(actions: Sequence[Action]) -> str:
    """A hash of the plan's actions and reasons (and so of the state they were made from)."""
    canonical = json.dumps(
        [action_to_json(a) for a in actions], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def still_holds(stored: Sequence[Action], fresh: Plan) -> tuple[list[LinkPlan], str | None]:
    """The fresh link plans that the stored plan covers, or why it is stale."""
    wanted = _grouped(stored)
    by_key = {plan_key(lp): lp for lp in fresh.links if plan_key(lp) is not None}
    for key, actions in wanted.items():
        current = by_key.get(key)
        if current is None:
            return [], f"nothing left to do for {key}: it changed since the plan was made"
        if _grouped(current.actions).get(key) != actions:
            return [], f"the actions for {key} changed since the plan was made"
    return [lp for lp in fresh.links if plan_key(lp) in wanted], None


async def store_plan(
    ctx: RunContext, plan: Plan, *, reason: str, notes: FreshNotes, detail: str | None = None
) -> str:
    """Persist the plan with its context; the run names it. A delete-guard plan identical to
    one already waiting for approval is not stored twice."""
    digest = fingerprint(plan.actions)
    now = ctx.now()
    async with ctx.store.transaction() as s:
        plan_id: str | None = None
        if reason == "delete_guard":
            for row in await repo_runs.list_plans(s, ctx.pair_id, status=PlanStatus.PENDING):
                if row.fingerprint == digest and (row.context or {}).get("reason") == reason:
                    plan_id = row.id
                    break
        if plan_id is None:
            row = await repo_runs.save_plan(
                s, ctx.pair_id, plan, fingerprint=digest, now=now, run_id=ctx.run_id
            )
            plan_id = row.id
            await repo_sync.set_plan_context(
                s,
                plan_id,
                {"reason": reason, "detail": detail, "notes": notes.read()},
            )
        await repo_sync.set_run_plan(s, ctx.run_id, plan_id)
    return plan_id
